// The animation: coloured quads orbiting and spinning, all from one instanced draw whose vertex
// shader computes every corner from the time (shaders/scene.vert). It stands in for a game's
// rendering: cheap, but it shows at a glance whether frames keep coming at display rate.
#pragma once

#include "window.h"

class Scene {
public:
    explicit Scene(const Window& window);
    ~Scene();
    Scene(const Scene&) = delete;
    Scene& operator=(const Scene&) = delete;

    // Inside the window's render pass. `activity` 0..1 makes the quads spin faster and glow
    // (the game shows that the engine is busy).
    void record(VkCommandBuffer cmd, VkExtent2D extent, float time, float activity) const;

private:
    VkDevice device_;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
};
