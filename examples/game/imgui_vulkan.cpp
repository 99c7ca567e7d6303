#include "imgui_vulkan.h"

#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_vulkan.h>

#include <algorithm>
#include <filesystem>

namespace {

void check_imgui(VkResult result) { vk_check(result, "Dear ImGui's Vulkan backend"); }

}  // namespace

ImGuiVulkan::ImGuiVulkan(Window& window, float font_pixels) : device_(window.device()) {
    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr; // no imgui.ini next to wherever the program runs
    ImGui::StyleColorsDark();
    ImGui::GetStyle().WindowRounding = 6.0f;

    // A readable font where the system has DejaVu (fonts-dejavu-core); else ImGui's own, larger.
    const char* dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    if (std::filesystem::exists(dejavu)) {
        io.Fonts->AddFontFromFileTTF(dejavu, font_pixels);
    } else {
        ImFontConfig config;
        config.SizePixels = font_pixels + 2.0f;
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

ImGuiVulkan::~ImGuiVulkan() {
    ImGui_ImplVulkan_Shutdown();
    ImGui_ImplGlfw_Shutdown();
    ImGui::DestroyContext();
    vkDestroyDescriptorPool(device_, pool_, nullptr);
}

void ImGuiVulkan::new_frame() {
    ImGui_ImplVulkan_NewFrame();
    ImGui_ImplGlfw_NewFrame();
    ImGui::NewFrame();
}

void ImGuiVulkan::render(VkCommandBuffer cmd) {
    ImGui::Render();
    ImGui_ImplVulkan_RenderDrawData(ImGui::GetDrawData(), cmd);
}
