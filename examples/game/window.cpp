#include "window.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <moevk/moevk_vulkan.h>

void vk_check(VkResult result, const char* what) {
    if (result != VK_SUCCESS) throw std::runtime_error(std::string(what) + " failed: VkResult " + std::to_string(result));
}

namespace {

bool has_layer(const char* name) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> layers(n);
    vkEnumerateInstanceLayerProperties(&n, layers.data());
    return std::any_of(layers.begin(), layers.end(), [&](const VkLayerProperties& l) { return !std::strcmp(l.layerName, name); });
}

bool has_device_extension(VkPhysicalDevice physical, const char* name) {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> extensions(n);
    vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, extensions.data());
    return std::any_of(extensions.begin(), extensions.end(),
                       [&](const VkExtensionProperties& e) { return !std::strcmp(e.extensionName, name); });
}

}  // namespace

Window::Window(const WindowOptions& options) : vsync_(options.vsync) {
    if (options.validation_messages) messages_ = options.validation_messages;
    if (!glfwInit()) throw std::runtime_error("glfwInit failed (no display?)");
    if (!glfwVulkanSupported()) throw std::runtime_error("GLFW found no Vulkan loader");
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API); // Vulkan draws, not OpenGL
    glfwWindowHint(GLFW_RESIZABLE, GLFW_TRUE);
    window_ = glfwCreateWindow(options.width, options.height, options.title, nullptr, nullptr);
    if (!window_) throw std::runtime_error("glfwCreateWindow failed");

    create_instance(options);
    VK_CHECK(glfwCreateWindowSurface(instance_, window_, nullptr, &surface_));
    choose_device();
    create_device();

    // Clear to a dark blue, draw, and leave the image ready to present. The dependency makes the
    // clear wait for the acquire semaphore, which the submit waits for at this same stage.
    VkAttachmentDescription colour{};
    uint32_t n = 0;
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface_, &n, nullptr);
    std::vector<VkSurfaceFormatKHR> formats(n);
    vkGetPhysicalDeviceSurfaceFormatsKHR(physical_, surface_, &n, formats.data());
    // A UNORM format: Dear ImGui's colours are meant to be written without an sRGB encode.
    format_ = formats.at(0).format;
    for (const VkSurfaceFormatKHR& f : formats)
        if (f.format == VK_FORMAT_B8G8R8A8_UNORM || f.format == VK_FORMAT_R8G8B8A8_UNORM) format_ = f.format;
    colour.format = format_;
    colour.samples = VK_SAMPLE_COUNT_1_BIT;
    colour.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    colour.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    colour.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    colour.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    colour.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    colour.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription subpass{};
    subpass.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    subpass.colorAttachmentCount = 1;
    subpass.pColorAttachments = &ref;
    VkSubpassDependency dependency{};
    dependency.srcSubpass = VK_SUBPASS_EXTERNAL;
    dependency.dstSubpass = 0;
    dependency.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    dependency.dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    dependency.dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    VkRenderPassCreateInfo pass{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    pass.attachmentCount = 1;
    pass.pAttachments = &colour;
    pass.subpassCount = 1;
    pass.pSubpasses = &subpass;
    pass.dependencyCount = 1;
    pass.pDependencies = &dependency;
    VK_CHECK(vkCreateRenderPass(device_, &pass, nullptr, &render_pass_));

    create_swapchain();

    VkCommandPoolCreateInfo pool{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pool.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pool.queueFamilyIndex = queue_family_;
    VK_CHECK(vkCreateCommandPool(device_, &pool, nullptr, &pool_));
    for (Slot& s : slots_) {
        VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        alloc.commandPool = pool_;
        alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        alloc.commandBufferCount = 1;
        VK_CHECK(vkAllocateCommandBuffers(device_, &alloc, &s.cmd));
        VkFenceCreateInfo fence{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        fence.flags = VK_FENCE_CREATE_SIGNALED_BIT; // the first wait on each slot returns at once
        VK_CHECK(vkCreateFence(device_, &fence, nullptr, &s.done));
        VkSemaphoreCreateInfo sem{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        VK_CHECK(vkCreateSemaphore(device_, &sem, nullptr, &s.acquired));
    }
}

Window::~Window() {
    // Whoever owns the engine has destroyed it by now, so nothing else uses the device.
    if (device_) {
        vkDeviceWaitIdle(device_);
        for (Slot& s : slots_) {
            vkDestroyFence(device_, s.done, nullptr);
            vkDestroySemaphore(device_, s.acquired, nullptr);
        }
        vkDestroyCommandPool(device_, pool_, nullptr);
        destroy_swapchain_views();
        vkDestroySwapchainKHR(device_, swapchain_, nullptr);
        vkDestroyRenderPass(device_, render_pass_, nullptr);
        vkDestroyDevice(device_, nullptr);
    }
    if (surface_) vkDestroySurfaceKHR(instance_, surface_, nullptr);
    if (messenger_) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        destroy(instance_, messenger_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
    if (window_) glfwDestroyWindow(window_);
    glfwTerminate();
}

VKAPI_ATTR VkBool32 VKAPI_CALL Window::on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                     VkDebugUtilsMessageTypeFlagsEXT,
                                                     const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    // Any thread may call this (the engine's calls run through the same layer), hence the atomic.
    static_cast<std::atomic<uint32_t>*>(user)->fetch_add(1);
    std::fprintf(stderr, "validation: %s\n", data->pMessage);
    return VK_FALSE;
}

void Window::create_instance(const WindowOptions& options) {
    uint32_t n = 0;
    const char** required = glfwGetRequiredInstanceExtensions(&n); // the surface extensions
    std::vector<const char*> extensions(required, required + n);
    std::vector<const char*> layers;

    VkDebugUtilsMessengerCreateInfoEXT messenger{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    messenger.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    messenger.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                            VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    messenger.pfnUserCallback = on_validation;
    messenger.pUserData = messages_; // not `this`: vkDestroyInstance may still report
    if (options.validation) {
        if (!has_layer("VK_LAYER_KHRONOS_validation"))
            throw std::runtime_error("--validation: VK_LAYER_KHRONOS_validation is not installed");
        layers.push_back("VK_LAYER_KHRONOS_validation");
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = options.title;
    app.apiVersion = options.api_version;
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    info.pNext = options.validation ? &messenger : nullptr; // also covers vkCreate/DestroyInstance
    info.pApplicationInfo = &app;
    info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    info.ppEnabledExtensionNames = extensions.data();
    info.enabledLayerCount = static_cast<uint32_t>(layers.size());
    info.ppEnabledLayerNames = layers.data();
    VK_CHECK(vkCreateInstance(&info, nullptr, &instance_));
    if (options.validation) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
        VK_CHECK(create(instance_, &messenger, nullptr, &messenger_));
    }
}

// The first device of the best kind (discrete, integrated, virtual, CPU) with Vulkan 1.2, the
// two features moe-vk needs (moevk_vulkan.h), swapchains, and one queue family that draws,
// computes and presents to our surface, so that the renderer and the engine share one queue.
void Window::choose_device() {
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance_, &n, nullptr);
    std::vector<VkPhysicalDevice> devices(n);
    vkEnumeratePhysicalDevices(instance_, &n, devices.data());
    auto rank = [](VkPhysicalDeviceType t) {
        switch (t) {
            case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
            case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
            case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
            case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
            default: return 4;
        }
    };
    int best = 99;
    std::string rejected;
    for (VkPhysicalDevice d : devices) {
        VkPhysicalDeviceProperties props;
        vkGetPhysicalDeviceProperties(d, &props);
        VkPhysicalDeviceVulkan12Features v12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
        VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &v12};
        vkGetPhysicalDeviceFeatures2(d, &features);
        if (props.apiVersion < VK_API_VERSION_1_2 || !v12.bufferDeviceAddress || !v12.timelineSemaphore ||
            !has_device_extension(d, VK_KHR_SWAPCHAIN_EXTENSION_NAME)) {
            rejected += std::string(" ") + props.deviceName + " (no 1.2/bufferDeviceAddress/timelineSemaphore/swapchain);";
            continue;
        }
        uint32_t nf = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(d, &nf, nullptr);
        std::vector<VkQueueFamilyProperties> families(nf);
        vkGetPhysicalDeviceQueueFamilyProperties(d, &nf, families.data());
        const VkQueueFlags wanted = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
        for (uint32_t f = 0; f < nf; ++f) {
            VkBool32 present = VK_FALSE;
            vkGetPhysicalDeviceSurfaceSupportKHR(d, f, surface_, &present);
            if ((families[f].queueFlags & wanted) == wanted && present && rank(props.deviceType) < best) {
                best = rank(props.deviceType);
                physical_ = d;
                queue_family_ = f;
                device_name_ = props.deviceName;
                break;
            }
        }
    }
    if (!physical_) throw std::runtime_error("no Vulkan device can both present to the window and run moe-vk:" + rejected);
}

moevk_host_device Window::engine_host() {
    moevk_host_device host = moevk_host_device_default();
    host.get_instance_proc_addr = vkGetInstanceProcAddr; // the loader this program links
    host.instance = instance_;
    host.physical_device = physical_;
    host.device = device_;
    host.queue_family = queue_family_;
    host.queue_index = 0;
    host.lock_queue = [](void* user, VkQueue) {
        auto* self = static_cast<Window*>(user);
        self->queue_mutex_.lock();
        self->engine_locks_.fetch_add(1, std::memory_order_relaxed); // only to report it
    };
    host.unlock_queue = [](void* user, VkQueue) { static_cast<Window*>(user)->queue_mutex_.unlock(); };
    host.queue_lock_user = this;
    return host;
}

void Window::create_device() {
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    queue.queueFamilyIndex = queue_family_;
    queue.queueCount = 1;
    queue.pQueuePriorities = &priority;

    // What moe-vk asks of a host's device (moevk_vulkan.h): the library sets it. The renderer
    // itself needs nothing beyond Vulkan 1.0 and swapchains.
    VkPhysicalDeviceVulkan12Features v12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    moevk_host_device_enable_features(&v12);
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &v12};

    const char* extensions[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
    VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &features};
    info.queueCreateInfoCount = 1;
    info.pQueueCreateInfos = &queue;
    info.enabledExtensionCount = 1;
    info.ppEnabledExtensionNames = extensions;
    VK_CHECK(vkCreateDevice(physical_, &info, nullptr, &device_));
    vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
}

void Window::create_swapchain() {
    VkSurfaceCapabilitiesKHR caps;
    VK_CHECK(vkGetPhysicalDeviceSurfaceCapabilitiesKHR(physical_, surface_, &caps));
    if (caps.currentExtent.width != UINT32_MAX) {
        extent_ = caps.currentExtent;
    } else {
        int w = 0, h = 0;
        glfwGetFramebufferSize(window_, &w, &h);
        extent_.width = std::clamp(static_cast<uint32_t>(w), caps.minImageExtent.width, caps.maxImageExtent.width);
        extent_.height = std::clamp(static_cast<uint32_t>(h), caps.minImageExtent.height, caps.maxImageExtent.height);
    }

    // FIFO always exists (and waits for the display); without vsync take MAILBOX (newest frame
    // wins, no tearing) or IMMEDIATE, whichever the surface offers.
    uint32_t n = 0;
    vkGetPhysicalDeviceSurfacePresentModesKHR(physical_, surface_, &n, nullptr);
    std::vector<VkPresentModeKHR> modes(n);
    vkGetPhysicalDeviceSurfacePresentModesKHR(physical_, surface_, &n, modes.data());
    auto offered = [&](VkPresentModeKHR m) { return std::find(modes.begin(), modes.end(), m) != modes.end(); };
    present_mode_ = VK_PRESENT_MODE_FIFO_KHR;
    if (!vsync_) {
        if (offered(VK_PRESENT_MODE_MAILBOX_KHR)) present_mode_ = VK_PRESENT_MODE_MAILBOX_KHR;
        else if (offered(VK_PRESENT_MODE_IMMEDIATE_KHR)) present_mode_ = VK_PRESENT_MODE_IMMEDIATE_KHR;
    }

    // The screenshot copies out of the presented image, which needs TRANSFER_SRC usage.
    can_read_back_ = caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
    VkSwapchainKHR old = swapchain_;
    VkSwapchainCreateInfoKHR info{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    info.surface = surface_;
    info.minImageCount = caps.minImageCount + 1;
    if (caps.maxImageCount) info.minImageCount = std::min(info.minImageCount, caps.maxImageCount);
    info.imageFormat = format_;
    info.imageColorSpace = VK_COLOR_SPACE_SRGB_NONLINEAR_KHR;
    info.imageExtent = extent_;
    info.imageArrayLayers = 1;
    info.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | (can_read_back_ ? VK_IMAGE_USAGE_TRANSFER_SRC_BIT : 0);
    info.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    info.preTransform = caps.currentTransform;
    info.compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR)
                              ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                              : static_cast<VkCompositeAlphaFlagBitsKHR>(caps.supportedCompositeAlpha &
                                                                         -caps.supportedCompositeAlpha);
    info.presentMode = present_mode_;
    info.clipped = VK_TRUE;
    info.oldSwapchain = old;
    VK_CHECK(vkCreateSwapchainKHR(device_, &info, nullptr, &swapchain_));
    if (old) vkDestroySwapchainKHR(device_, old, nullptr);

    vkGetSwapchainImagesKHR(device_, swapchain_, &n, nullptr);
    images_.resize(n);
    vkGetSwapchainImagesKHR(device_, swapchain_, &n, images_.data());
    for (VkImage image : images_) {
        VkImageViewCreateInfo view{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        view.image = image;
        view.viewType = VK_IMAGE_VIEW_TYPE_2D;
        view.format = format_;
        view.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView v;
        VK_CHECK(vkCreateImageView(device_, &view, nullptr, &v));
        views_.push_back(v);
        VkFramebufferCreateInfo fb{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fb.renderPass = render_pass_;
        fb.attachmentCount = 1;
        fb.pAttachments = &v;
        fb.width = extent_.width;
        fb.height = extent_.height;
        fb.layers = 1;
        VkFramebuffer f;
        VK_CHECK(vkCreateFramebuffer(device_, &fb, nullptr, &f));
        framebuffers_.push_back(f);
        VkSemaphoreCreateInfo sem{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        VkSemaphore s;
        VK_CHECK(vkCreateSemaphore(device_, &sem, nullptr, &s));
        rendered_.push_back(s);
    }
}

void Window::destroy_swapchain_views() {
    for (VkFramebuffer f : framebuffers_) vkDestroyFramebuffer(device_, f, nullptr);
    for (VkImageView v : views_) vkDestroyImageView(device_, v, nullptr);
    for (VkSemaphore s : rendered_) vkDestroySemaphore(device_, s, nullptr);
    framebuffers_.clear();
    views_.clear();
    rendered_.clear();
}

void Window::recreate_swapchain() {
    // A minimised window has no extent: wait until it has one again.
    int w = 0, h = 0;
    glfwGetFramebufferSize(window_, &w, &h);
    while ((w == 0 || h == 0) && !glfwWindowShouldClose(window_)) {
        glfwWaitEvents();
        glfwGetFramebufferSize(window_, &w, &h);
    }
    // Not vkDeviceWaitIdle: that needs every queue to ourselves, and the engine may be submitting
    // from its thread. Waiting for our queue under its lock is enough.
    {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        VK_CHECK(vkQueueWaitIdle(queue_));
    }
    destroy_swapchain_views();
    create_swapchain();
}

bool Window::begin_frame(Frame& frame) {
    Slot& s = slots_[slot_];
    VK_CHECK(vkWaitForFences(device_, 1, &s.done, VK_TRUE, UINT64_MAX));
    VkResult r = vkAcquireNextImageKHR(device_, swapchain_, UINT64_MAX, s.acquired, VK_NULL_HANDLE, &frame.image_index);
    if (r == VK_ERROR_OUT_OF_DATE_KHR) {
        recreate_swapchain();
        return false;
    }
    if (r != VK_SUBOPTIMAL_KHR) VK_CHECK(r);
    VK_CHECK(vkResetFences(device_, 1, &s.done)); // only once a submit that signals it is sure
    frame.cmd = s.cmd;
    frame.image = images_[frame.image_index];

    VK_CHECK(vkResetCommandBuffer(s.cmd, 0));
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VK_CHECK(vkBeginCommandBuffer(s.cmd, &begin));
    VkClearValue clear{};
    clear.color = {{0.03f, 0.04f, 0.09f, 1.0f}};
    VkRenderPassBeginInfo pass{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    pass.renderPass = render_pass_;
    pass.framebuffer = framebuffers_[frame.image_index];
    pass.renderArea.extent = extent_;
    pass.clearValueCount = 1;
    pass.pClearValues = &clear;
    vkCmdBeginRenderPass(s.cmd, &pass, VK_SUBPASS_CONTENTS_INLINE);
    return true;
}

void Window::end_frame(Frame& frame, const std::function<void(VkCommandBuffer, VkImage)>& after_pass) {
    Slot& s = slots_[slot_];
    vkCmdEndRenderPass(frame.cmd);
    if (after_pass) after_pass(frame.cmd, frame.image);
    VK_CHECK(vkEndCommandBuffer(frame.cmd));

    VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.waitSemaphoreCount = 1;
    submit.pWaitSemaphores = &s.acquired;
    submit.pWaitDstStageMask = &wait_stage;
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &frame.cmd;
    submit.signalSemaphoreCount = 1;
    submit.pSignalSemaphores = &rendered_[frame.image_index];
    VkPresentInfoKHR present{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    present.waitSemaphoreCount = 1;
    present.pWaitSemaphores = &rendered_[frame.image_index];
    present.swapchainCount = 1;
    present.pSwapchains = &swapchain_;
    present.pImageIndices = &frame.image_index;
    VkResult r;
    {
        // The engine's submits take the same lock (moevk_host_device.lock_queue). The frame goes
        // behind whatever GPU work the engine queued this frame: one queue runs in order.
        std::lock_guard<std::mutex> lock(queue_mutex_);
        VK_CHECK(vkQueueSubmit(queue_, 1, &submit, s.done));
        r = vkQueuePresentKHR(queue_, &present);
    }
    slot_ = (slot_ + 1) % kFramesInFlight;
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) recreate_swapchain();
    else VK_CHECK(r);
}

void Window::wait_frames() {
    for (Slot& s : slots_) VK_CHECK(vkWaitForFences(device_, 1, &s.done, VK_TRUE, UINT64_MAX));
}

void Window::submit_now(const std::function<void(VkCommandBuffer)>& record) {
    VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = pool_;
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    VkCommandBuffer cmd;
    VK_CHECK(vkAllocateCommandBuffers(device_, &alloc, &cmd));
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VK_CHECK(vkBeginCommandBuffer(cmd, &begin));
    record(cmd);
    VK_CHECK(vkEndCommandBuffer(cmd));
    VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    VK_CHECK(vkCreateFence(device_, &fence_info, nullptr, &fence));
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &cmd;
    {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        VK_CHECK(vkQueueSubmit(queue_, 1, &submit, fence));
    }
    VK_CHECK(vkWaitForFences(device_, 1, &fence, VK_TRUE, UINT64_MAX)); // outside the lock
    vkDestroyFence(device_, fence, nullptr);
    vkFreeCommandBuffers(device_, pool_, 1, &cmd);
}

const char* Window::present_mode_name() const {
    switch (present_mode_) {
        case VK_PRESENT_MODE_FIFO_KHR: return "FIFO";
        case VK_PRESENT_MODE_MAILBOX_KHR: return "MAILBOX";
        case VK_PRESENT_MODE_IMMEDIATE_KHR: return "IMMEDIATE";
        default: return "other";
    }
}
