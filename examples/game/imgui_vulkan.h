// Dear ImGui on a Window: its GLFW and Vulkan backends (Debian's libimgui-dev) set up for the
// window's device and render pass, the font atlas uploaded, and each frame begun and recorded.
// The game's overlay and moe-desk both draw through it.
#pragma once

#include "window.h"

class ImGuiVulkan {
public:
    // font_pixels: the size of the text (DejaVu Sans where the system has it, else ImGui's own).
    explicit ImGuiVulkan(Window& window, float font_pixels = 18.0f);
    ~ImGuiVulkan();
    ImGuiVulkan(const ImGuiVulkan&) = delete;
    ImGuiVulkan& operator=(const ImGuiVulkan&) = delete;

    // Starts a frame: after this the ImGui:: calls lay it out.
    void new_frame();
    // Ends the frame's layout and records its draw into the open render pass.
    void render(VkCommandBuffer cmd);

private:
    VkDevice device_;
    VkDescriptorPool pool_ = VK_NULL_HANDLE;
};
