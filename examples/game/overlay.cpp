#include "overlay.h"

#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_vulkan.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace {

void check_imgui(VkResult result) { vk_check(result, "Dear ImGui's Vulkan backend"); }

}  // namespace

Overlay::Overlay(Window& window) : device_(window.device()) {
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr; // no imgui.ini next to wherever the game runs
    ImGui::StyleColorsDark();
    ImGui::GetStyle().WindowRounding = 6.0f;

    // A readable font where the system has DejaVu (fonts-dejavu-core); else ImGui's own, larger.
    const char* dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    if (std::filesystem::exists(dejavu)) {
        io.Fonts->AddFontFromFileTTF(dejavu, 18.0f);
    } else {
        ImFontConfig config;
        config.SizePixels = 20.0f;
        io.Fonts->AddFontDefault(&config);
    }

    // The font texture's one descriptor set is all the backend allocates.
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 4};
    VkDescriptorPoolCreateInfo pool{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    pool.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    pool.maxSets = 4;
    pool.poolSizeCount = 1;
    pool.pPoolSizes = &size;
    VK_CHECK(vkCreateDescriptorPool(device_, &pool, nullptr, &pool_));

    ImGui_ImplGlfw_InitForVulkan(window.glfw(), true);
    ImGui_ImplVulkan_InitInfo info{};
    info.Instance = window.instance();
    info.PhysicalDevice = window.physical_device();
    info.Device = window.device();
    info.QueueFamily = window.queue_family();
    info.Queue = window.queue(); // kept, never submitted to by this backend version
    info.DescriptorPool = pool_;
    // The backend keeps ImageCount sets of vertex buffers and takes them in turn, one per
    // frame: at least the frames in flight, so none is rewritten while the GPU reads it.
    info.MinImageCount = Window::kFramesInFlight;
    info.ImageCount = std::max(window.image_count(), Window::kFramesInFlight);
    info.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    info.CheckVkResultFn = check_imgui;
    ImGui_ImplVulkan_Init(&info, window.render_pass());

    // The font atlas goes up through one of our command buffers (the submit takes the queue lock).
    window.submit_now([](VkCommandBuffer cmd) { ImGui_ImplVulkan_CreateFontsTexture(cmd); });
    ImGui_ImplVulkan_DestroyFontUploadObjects();
}

Overlay::~Overlay() {
    ImGui_ImplVulkan_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    vkDestroyDescriptorPool(device_, pool_, nullptr);
}

void Overlay::record(VkCommandBuffer cmd, const Hud& hud) {
    ImGui_ImplVulkan_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();

    // One panel over the left half of the window; the scene turns in the right half.
    const ImVec2 display = ImGui::GetIO().DisplaySize;
    const float margin = 16.0f;
    ImGui::SetNextWindowPos(ImVec2(margin, margin), ImGuiCond_Always);
    ImGui::SetNextWindowSize(ImVec2(display.x * 0.5f - margin, display.y - 2 * margin), ImGuiCond_Always);
    ImGui::SetNextWindowBgAlpha(0.85f);
    ImGui::Begin("moe-vk", nullptr, ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoCollapse);

    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%s", hud.device.c_str());
    if (!hud.model.empty()) ImGui::TextWrapped("%s", hud.model.c_str());
    ImGui::PopStyleColor();
    ImGui::Separator();
    ImGui::TextColored(ImVec4(0.55f, 0.8f, 1.0f, 1.0f), "You:");
    ImGui::SameLine();
    ImGui::TextWrapped("%s", hud.prompt.c_str());
    ImGui::Spacing();
    ImGui::TextColored(ImVec4(1.0f, 0.8f, 0.45f, 1.0f), "Assistant:");

    // The reply scrolls inside its own child region, keeping up with the newest text.
    const float plot_height = 60.0f;
    const ImGuiStyle& style = ImGui::GetStyle();
    const float footer = ImGui::GetTextLineHeightWithSpacing() + plot_height + 2 * style.ItemSpacing.y +
                         (hud.progress >= 0 ? ImGui::GetFrameHeightWithSpacing() : 0.0f);
    ImGui::BeginChild("reply", ImVec2(0, -footer), true);
    ImGui::TextWrapped("%s", hud.reply.c_str());
    if (ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 1.0f) ImGui::SetScrollHereY(1.0f);
    ImGui::EndChild();

    if (hud.progress >= 0) ImGui::ProgressBar(hud.progress, ImVec2(-1, 0), "loading the model");
    ImGui::TextUnformatted(hud.status.c_str());
    if (hud.frame_ms && !hud.frame_ms->empty()) {
        const std::vector<float>& ms = *hud.frame_ms;
        char label[64];
        std::snprintf(label, sizeof label, "frame %.1f ms", ms.back());
        ImGui::PlotLines("##frames", ms.data(), int(ms.size()), 0, label, 0.0f, 50.0f,
                         ImVec2(ImGui::GetContentRegionAvail().x, plot_height));
    }
    ImGui::End();

    ImGui::Render();
    ImGui_ImplVulkan_RenderDrawData(ImGui::GetDrawData(), cmd);
}
