// The game's text: Dear ImGui (Debian's libimgui-dev, with its GLFW and Vulkan backends) draws a
// panel with the question, the reply as it streams in, the engine's state and a frame-time plot,
// inside the window's render pass after the scene.
#pragma once

#include <string>
#include <vector>

#include "imgui_vulkan.h"
#include "window.h"

// What the panel shows this frame.
struct Hud {
    std::string device;   // the Vulkan device and present mode
    std::string model;    // the model's one-line description
    std::string prompt;
    std::string reply;    // so far
    std::string status;   // "loading", "generating: 12 tokens, ...", "done: ..."
    float progress = -1;  // 0..1 shows a loading bar
    const std::vector<float>* frame_ms = nullptr; // the recent frame times, oldest first
};

class Overlay {
public:
    explicit Overlay(Window& window);
    Overlay(const Overlay&) = delete;
    Overlay& operator=(const Overlay&) = delete;

    // Lays out this frame's panel and records its draw into the open render pass.
    void record(VkCommandBuffer cmd, const Hud& hud);

private:
    ImGuiVulkan imgui_;
};
