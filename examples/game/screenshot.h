// --screenshot: the last frame's swapchain image, copied into a host-visible buffer by the same
// command buffer that drew it (after the render pass, before the present) and written as a PNG
// once that frame's fence has signalled. What is saved is exactly what was presented.
#pragma once

#include <string>

#include "window.h"

class Screenshot {
public:
    explicit Screenshot(const Window& window);
    ~Screenshot();
    Screenshot(const Screenshot&) = delete;
    Screenshot& operator=(const Screenshot&) = delete;

    // Records the copy of `image` (in PRESENT_SRC layout, as the render pass leaves it); again
    // for each screenshot, dropping the previous one.
    void record(VkCommandBuffer cmd, VkImage image);
    // After the frame has finished (Window::wait_frames): writes the PNG; throws on failure.
    void save(const std::string& path) const;

private:
    void release();

    const Window& window_;
    VkExtent2D extent_{};
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    bool recorded_ = false;
};
