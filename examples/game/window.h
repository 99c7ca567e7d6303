// The game's window and its Vulkan renderer's foundation: a GLFW window, a VkInstance (with the
// validation layer on request), a device that meets moe-vk's needs as well as the renderer's,
// one queue for graphics, compute and present, a swapchain, and the frame loop's plumbing (two
// frames in flight). Nothing here knows about moe-vk beyond what moevk_vulkan.h asks a host
// device to enable.
#pragma once

#include <vulkan/vulkan.h>
#include <moevk/moevk_vulkan.h>
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

// Throws std::runtime_error naming the call when a Vulkan call fails.
void vk_check(VkResult result, const char* what);
#define VK_CHECK(call) vk_check((call), #call)

struct WindowOptions {
    int width = 960;
    int height = 540;
    const char* title = "moe-vk game";
    bool vsync = true;       // FIFO; else MAILBOX or IMMEDIATE where the surface has them
    bool validation = false; // VK_LAYER_KHRONOS_validation, every message counted
    // Where the messages are counted: pass a counter that outlives the window to count those
    // that vkDestroyDevice and vkDestroyInstance raise (objects left behind) too.
    std::atomic<uint32_t>* validation_messages = nullptr;
    uint32_t api_version = VK_API_VERSION_1_2;
};

// One frame being recorded: its command buffer is begun and the render pass, which clears the
// swapchain image, is open.
struct Frame {
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkImage image = VK_NULL_HANDLE;
    uint32_t image_index = 0;
};

class Window {
public:
    explicit Window(const WindowOptions& options);
    ~Window();
    Window(const Window&) = delete;
    Window& operator=(const Window&) = delete;

    bool should_close() const { return glfwWindowShouldClose(window_); }

    // Waits until this frame slot's previous use has finished, acquires the next swapchain image
    // and opens the render pass. false: the swapchain had to be rebuilt; skip this frame.
    bool begin_frame(Frame& frame);
    // Closes the render pass, lets `after_pass` record more (the screenshot's copy), submits and
    // presents.
    void end_frame(Frame& frame, const std::function<void(VkCommandBuffer, VkImage)>& after_pass = {});
    // Waits for every frame submitted so far (their fences: not for other work on the queue).
    void wait_frames();
    // Records, submits and waits for a one-off command buffer (start-up uploads).
    void submit_now(const std::function<void(VkCommandBuffer)>& record);

    // The queue is shared with moe-vk, which may submit from another thread (the model loads on
    // one): whoever calls vkQueueSubmit, vkQueuePresentKHR or vkQueueWaitIdle on it holds this.
    std::mutex& queue_mutex() { return queue_mutex_; }

    // moe-vk's description of this window's device and its one queue, for
    // moevk_engine_create_on_device: the engine takes queue_mutex() around each of its submits.
    moevk_host_device engine_host();
    uint64_t engine_queue_locks() const { return engine_locks_.load(); } // the engine's submits so far

    GLFWwindow* glfw() const { return window_; }
    VkInstance instance() const { return instance_; }
    VkPhysicalDevice physical_device() const { return physical_; }
    VkDevice device() const { return device_; }
    uint32_t queue_family() const { return queue_family_; }
    VkQueue queue() const { return queue_; }
    VkRenderPass render_pass() const { return render_pass_; }
    VkFormat format() const { return format_; }
    VkExtent2D extent() const { return extent_; }
    uint32_t image_count() const { return static_cast<uint32_t>(images_.size()); }
    bool can_read_back() const { return can_read_back_; }
    const std::string& device_name() const { return device_name_; }
    const char* present_mode_name() const;
    uint32_t validation_messages() const { return messages_->load(); }

    static constexpr uint32_t kFramesInFlight = 2;

private:
    void create_instance(const WindowOptions& options);
    void choose_device();
    void create_device();
    void create_swapchain();
    void destroy_swapchain_views();
    void recreate_swapchain();
    static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                        VkDebugUtilsMessageTypeFlagsEXT type,
                                                        const VkDebugUtilsMessengerCallbackDataEXT* data, void* user);

    GLFWwindow* window_ = nullptr;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    std::atomic<uint64_t> engine_locks_{0};
    std::atomic<uint32_t> own_messages_{0};
    std::atomic<uint32_t>* messages_ = &own_messages_;
    VkSurfaceKHR surface_ = VK_NULL_HANDLE;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    std::string device_name_;
    uint32_t queue_family_ = 0;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    std::mutex queue_mutex_;
    bool vsync_ = true;

    VkSwapchainKHR swapchain_ = VK_NULL_HANDLE;
    VkFormat format_ = VK_FORMAT_UNDEFINED;
    VkPresentModeKHR present_mode_ = VK_PRESENT_MODE_FIFO_KHR;
    VkExtent2D extent_{};
    bool can_read_back_ = false;
    VkRenderPass render_pass_ = VK_NULL_HANDLE;
    std::vector<VkImage> images_;
    std::vector<VkImageView> views_;
    std::vector<VkFramebuffer> framebuffers_;
    std::vector<VkSemaphore> rendered_; // per swapchain image: a present waits on its image's

    VkCommandPool pool_ = VK_NULL_HANDLE;
    struct Slot {
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        VkFence done = VK_NULL_HANDLE;
        VkSemaphore acquired = VK_NULL_HANDLE;
    } slots_[kFramesInFlight];
    uint32_t slot_ = 0;
};
