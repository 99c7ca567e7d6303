#include "overlay.h"

#include <imgui.h>

#include <algorithm>
#include <cstdio>

Overlay::Overlay(Window& window) : imgui_(window) {}

void Overlay::record(VkCommandBuffer cmd, const Hud& hud) {
    imgui_.new_frame();

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

    imgui_.render(cmd);
}
