#include "gpu/context.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include "gpu/error.h"
#include "gpu/pipeline.h"

namespace moevk::gpu {
namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";
// Long enough for one prefill submit of a large layer on a CPU device; a wait past this is a
// hang that we report instead of sitting in forever.
constexpr uint64_t kWaitTimeoutNs = 600ull * 1000 * 1000 * 1000;

// volk keeps the loader's entry point and the instance-level functions in process globals,
// pointed at the instance loaded last. Every Context takes what it needs from them while it is
// made (its device functions go into a table of its own), so making Contexts one at a time is
// what lets two engines on two threads coexist.
std::mutex& volk_lock() {
    static std::mutex lock;
    return lock;
}

// With volk_lock held.
void load_vulkan_loader() {
    static bool loaded = false;
    if (loaded) return;
    if (volkInitialize() != VK_SUCCESS)
        throw Error(ErrorCode::NoDevice,
                    "no Vulkan loader found (libvulkan.so.1); install libvulkan1 and a driver "
                    "(mesa-vulkan-drivers provides the lavapipe CPU device)");
    loaded = true;
}

DeviceKind kind_of(VkPhysicalDeviceType type) {
    switch (type) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return DeviceKind::Discrete;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return DeviceKind::Integrated;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return DeviceKind::Virtual;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return DeviceKind::Cpu;
        default: return DeviceKind::Other;
    }
}

struct FeatureChain {
    VkPhysicalDeviceFeatures2 base{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    VkPhysicalDeviceVulkan11Features v11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceVulkan12Features v12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceVulkan13Features v13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};

    explicit FeatureChain(uint32_t api_version) {
        base.pNext = &v11;
        v11.pNext = &v12;
        if (api_version >= VK_API_VERSION_1_3) v12.pNext = &v13;
    }
    FeatureChain(const FeatureChain&) = delete;
};

bool meets_baseline(VkPhysicalDevice physical) {
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical, &props);
    if (props.apiVersion < VK_API_VERSION_1_2) return false;
    FeatureChain chain(props.apiVersion);
    vkGetPhysicalDeviceFeatures2(physical, &chain.base);
    return chain.v12.bufferDeviceAddress && chain.v12.timelineSemaphore;
}

std::optional<uint32_t> find_queue_family(VkPhysicalDevice physical, VkQueueFlags required,
                                          VkQueueFlags excluded) {
    uint32_t count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, nullptr);
    std::vector<VkQueueFamilyProperties> families(count);
    vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, families.data());
    for (uint32_t i = 0; i < count; ++i) {
        if ((families[i].queueFlags & required) == required &&
            (families[i].queueFlags & excluded) == 0 && families[i].queueCount > 0)
            return i;
    }
    return std::nullopt;
}

DeviceInfo describe(VkPhysicalDevice physical, std::optional<uint32_t> compute_family) {
    VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &subgroup};
    vkGetPhysicalDeviceProperties2(physical, &props2);
    const VkPhysicalDeviceProperties& props = props2.properties;

    DeviceInfo info;
    info.name = props.deviceName;
    info.kind = kind_of(props.deviceType);
    info.api_version = props.apiVersion;
    info.vendor_id = props.vendorID;
    info.subgroup_size = subgroup.subgroupSize;
    info.max_workgroup_invocations = props.limits.maxComputeWorkGroupInvocations;
    info.max_shared_memory = props.limits.maxComputeSharedMemorySize;
    info.max_storage_buffer_range = props.limits.maxStorageBufferRange;

    VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 m3_props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &m3};
    vkGetPhysicalDeviceProperties2(physical, &m3_props);
    info.max_allocation_size = m3.maxMemoryAllocationSize;

    VkPhysicalDeviceMemoryProperties memory;
    vkGetPhysicalDeviceMemoryProperties(physical, &memory);
    for (uint32_t i = 0; i < memory.memoryHeapCount; ++i) {
        if (memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info.device_local_bytes = std::max<uint64_t>(info.device_local_bytes, memory.memoryHeaps[i].size);
    }

    if (compute_family) {
        uint32_t count = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, nullptr);
        std::vector<VkQueueFamilyProperties> families(count);
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &count, families.data());
        if (families[*compute_family].timestampValidBits > 0)
            info.timestamp_period_ns = props.limits.timestampPeriod;
    }

    if (props.apiVersion >= VK_API_VERSION_1_2) {
        FeatureChain chain(props.apiVersion);
        vkGetPhysicalDeviceFeatures2(physical, &chain.base);
        info.features.shader_float16 = chain.v12.shaderFloat16;
        info.features.shader_int8 = chain.v12.shaderInt8;
        info.features.storage_8bit = chain.v12.storageBuffer8BitAccess;
        info.features.storage_16bit = chain.v11.storageBuffer16BitAccess;
        info.features.integer_dot_product =
            props.apiVersion >= VK_API_VERSION_1_3 && chain.v13.shaderIntegerDotProduct;
    }
    info.features.subgroup_arithmetic =
        (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
        (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    return info;
}

int rank(DeviceKind kind) {
    switch (kind) {
        case DeviceKind::Discrete: return 0;
        case DeviceKind::Integrated: return 1;
        case DeviceKind::Virtual: return 2;
        case DeviceKind::Cpu: return 3;
        default: return 4;
    }
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                                VkDebugUtilsMessageTypeFlagsEXT,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                void* user) {
    auto* sink = static_cast<std::function<void(const std::string&)>*>(user);
    if (sink && *sink) (*sink)(data->pMessage ? data->pMessage : "(empty validation message)");
    return VK_FALSE;
}

bool has_instance_layer(const char* name) {
    uint32_t count = 0;
    vkEnumerateInstanceLayerProperties(&count, nullptr);
    std::vector<VkLayerProperties> layers(count);
    vkEnumerateInstanceLayerProperties(&count, layers.data());
    return std::any_of(layers.begin(), layers.end(),
                       [&](const VkLayerProperties& l) { return std::strcmp(l.layerName, name) == 0; });
}

bool has_instance_extension(const char* name) {
    uint32_t count = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &count, nullptr);
    std::vector<VkExtensionProperties> exts(count);
    vkEnumerateInstanceExtensionProperties(nullptr, &count, exts.data());
    return std::any_of(exts.begin(), exts.end(), [&](const VkExtensionProperties& e) {
        return std::strcmp(e.extensionName, name) == 0;
    });
}

VkInstance create_instance(bool validation) {
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "moe-vk";
    app.pEngineName = "moe-vk";
    app.apiVersion = VK_API_VERSION_1_2;

    std::vector<const char*> layers;
    std::vector<const char*> extensions;
    if (validation) {
        if (!has_instance_layer(kValidationLayer))
            throw Error(ErrorCode::InvalidArgument,
                        std::string("validation was requested but ") + kValidationLayer +
                            " is not installed (Debian: vulkan-validationlayers)");
        layers.push_back(kValidationLayer);
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }
    VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    // MoltenVK and other non-conformant drivers are listed only with portability enumeration.
    if (has_instance_extension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        info.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
    info.pApplicationInfo = &app;
    info.enabledLayerCount = static_cast<uint32_t>(layers.size());
    info.ppEnabledLayerNames = layers.data();
    info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    info.ppEnabledExtensionNames = extensions.data();
    VkInstance instance = VK_NULL_HANDLE;
    MOEVK_VK_CHECK(vkCreateInstance(&info, nullptr, &instance));
    volkLoadInstanceOnly(instance);
    return instance;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance instance) {
    uint32_t count = 0;
    MOEVK_VK_CHECK(vkEnumeratePhysicalDevices(instance, &count, nullptr));
    std::vector<VkPhysicalDevice> devices(count);
    MOEVK_VK_CHECK(vkEnumeratePhysicalDevices(instance, &count, devices.data()));
    devices.resize(count);
    return devices;
}

VkPhysicalDevice choose_device(VkInstance instance, const PhysicalDeviceChoice& choice) {
    std::vector<VkPhysicalDevice> devices = physical_devices(instance);
    if (devices.empty()) throw Error(ErrorCode::NoDevice, "no Vulkan device found");
    auto usable = [](VkPhysicalDevice d) {
        return meets_baseline(d) && find_queue_family(d, VK_QUEUE_COMPUTE_BIT, 0).has_value();
    };
    auto why_unusable = [](VkPhysicalDevice d) {
        return describe(d, std::nullopt).name +
               " lacks Vulkan 1.2 with bufferDeviceAddress and timelineSemaphore, or a compute queue";
    };
    if (choice.index) {
        if (*choice.index >= devices.size())
            throw Error(ErrorCode::NoDevice, "device index " + std::to_string(*choice.index) +
                                                 " is out of range: " + std::to_string(devices.size()) +
                                                 " Vulkan device(s) present");
        VkPhysicalDevice d = devices[*choice.index];
        if (!usable(d)) throw Error(ErrorCode::NoDevice, why_unusable(d));
        return d;
    }
    VkPhysicalDevice best = VK_NULL_HANDLE;
    int best_rank = 1 << 30;
    std::string names;
    for (VkPhysicalDevice d : devices) {
        DeviceInfo info = describe(d, std::nullopt);
        names += (names.empty() ? "" : ", ") + info.name;
        if (!choice.name_contains.empty() &&
            lower(info.name).find(lower(choice.name_contains)) == std::string::npos)
            continue;
        if (!usable(d)) continue;
        if (rank(info.kind) < best_rank) {
            best = d;
            best_rank = rank(info.kind);
        }
    }
    if (best == VK_NULL_HANDLE) {
        std::string what = choice.name_contains.empty()
                               ? "no Vulkan device meets the baseline"
                               : "no usable Vulkan device matches \"" + choice.name_contains + "\"";
        throw Error(ErrorCode::NoDevice,
                    what + " (Vulkan 1.2, bufferDeviceAddress, timelineSemaphore); present: " + names);
    }
    return best;
}

}  // namespace

const char* device_kind_name(DeviceKind kind) {
    switch (kind) {
        case DeviceKind::Discrete: return "discrete GPU";
        case DeviceKind::Integrated: return "integrated GPU";
        case DeviceKind::Virtual: return "virtual GPU";
        case DeviceKind::Cpu: return "CPU";
        default: return "other";
    }
}

std::vector<DeviceInfo> list_devices() {
    std::lock_guard<std::mutex> guard(volk_lock());
    load_vulkan_loader();
    VkInstance instance = create_instance(false);
    std::vector<DeviceInfo> result;
    try {
        for (VkPhysicalDevice d : physical_devices(instance))
            result.push_back(describe(d, find_queue_family(d, VK_QUEUE_COMPUTE_BIT, 0)));
    } catch (...) {
        vkDestroyInstance(instance, nullptr);
        throw;
    }
    vkDestroyInstance(instance, nullptr);
    return result;
}

std::unique_ptr<Context> Context::create(const ContextOptions& options) {
    std::lock_guard<std::mutex> guard(volk_lock());
    load_vulkan_loader();
    std::unique_ptr<Context> ctx(new Context());
    ctx->on_validation_message_ = options.on_validation_message;
    ctx->instance_ = create_instance(options.validation);
    ctx->owns_instance_ = true;
    ctx->destroy_instance_ = reinterpret_cast<PFN_vkDestroyInstance>(
        vkGetInstanceProcAddr(ctx->instance_, "vkDestroyInstance"));

    if (options.validation) {
        VkDebugUtilsMessengerCreateInfoEXT info{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
        info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
        info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
        info.pfnUserCallback = on_debug_message;
        info.pUserData = &ctx->on_validation_message_;
        ctx->destroy_messenger_ = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(ctx->instance_, "vkDestroyDebugUtilsMessengerEXT"));
        MOEVK_VK_CHECK(vkCreateDebugUtilsMessengerEXT(ctx->instance_, &info, nullptr, &ctx->messenger_));
    }

    ctx->physical_device_ = choose_device(ctx->instance_, options.device);
    VkPhysicalDevice physical = ctx->physical_device_;
    uint32_t compute_family = *find_queue_family(physical, VK_QUEUE_COMPUTE_BIT, 0);
    std::optional<uint32_t> transfer_family =
        find_queue_family(physical, VK_QUEUE_TRANSFER_BIT, VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT);

    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(physical, &props);
    FeatureChain supported(props.apiVersion);
    vkGetPhysicalDeviceFeatures2(physical, &supported.base);

    // Enable the baseline and whichever optional features exist; later shader variants use them.
    FeatureChain enabled(VK_API_VERSION_1_2);
    enabled.v12.bufferDeviceAddress = VK_TRUE;
    enabled.v12.timelineSemaphore = VK_TRUE;
    enabled.v12.shaderFloat16 = supported.v12.shaderFloat16;
    enabled.v12.shaderInt8 = supported.v12.shaderInt8;
    enabled.v12.storageBuffer8BitAccess = supported.v12.storageBuffer8BitAccess;
    enabled.v11.storageBuffer16BitAccess = supported.v11.storageBuffer16BitAccess;
    enabled.base.features.shaderInt64 = supported.base.features.shaderInt64;
    enabled.base.features.shaderInt16 = supported.base.features.shaderInt16;

    float priority = 1.0f;
    VkDeviceQueueCreateInfo queues[2] = {{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO},
                                         {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO}};
    queues[0].queueFamilyIndex = compute_family;
    queues[0].queueCount = 1;
    queues[0].pQueuePriorities = &priority;
    if (transfer_family) {
        queues[1].queueFamilyIndex = *transfer_family;
        queues[1].queueCount = 1;
        queues[1].pQueuePriorities = &priority;
    }
    VkDeviceCreateInfo info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &enabled.base};
    info.queueCreateInfoCount = transfer_family ? 2 : 1;
    info.pQueueCreateInfos = queues;
    MOEVK_VK_CHECK(vkCreateDevice(physical, &info, nullptr, &ctx->device_));
    ctx->owns_device_ = true;

    ctx->compute_.family = compute_family;
    if (transfer_family) {
        ctx->has_transfer_ = true;
        ctx->transfer_.family = *transfer_family;
    }
    ctx->init_device_objects();
    return ctx;
}

std::unique_ptr<Context> Context::adopt(const ExternalDevice& external) {
    if (external.instance == VK_NULL_HANDLE || external.physical_device == VK_NULL_HANDLE ||
        external.device == VK_NULL_HANDLE)
        throw Error(ErrorCode::InvalidArgument,
                    "external device: instance, physical_device and device must all be set");
    std::lock_guard<std::mutex> guard(volk_lock());
    // The host's entry point reaches its own loader and layers; the system loader's comes back
    // for the Contexts made after this one.
    PFN_vkGetInstanceProcAddr system_entry = nullptr;
    if (external.get_instance_proc_addr) {
        system_entry = vkGetInstanceProcAddr;
        volkInitializeCustom(external.get_instance_proc_addr);
    } else {
        load_vulkan_loader();
    }
    struct RestoreEntry {
        PFN_vkGetInstanceProcAddr entry;
        bool active;
        ~RestoreEntry() {
            if (active && entry) volkInitializeCustom(entry);
        }
    } restore{system_entry, external.get_instance_proc_addr != nullptr};
    volkLoadInstanceOnly(external.instance);
    if (!meets_baseline(external.physical_device))
        throw Error(ErrorCode::InvalidArgument,
                    "external device: " + describe(external.physical_device, std::nullopt).name +
                        " lacks Vulkan 1.2 with bufferDeviceAddress and timelineSemaphore");
    uint32_t count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(external.physical_device, &count, nullptr);
    std::vector<VkQueueFamilyProperties> families(count);
    vkGetPhysicalDeviceQueueFamilyProperties(external.physical_device, &count, families.data());
    if (external.queue_family >= count || !(families[external.queue_family].queueFlags & VK_QUEUE_COMPUTE_BIT))
        throw Error(ErrorCode::InvalidArgument, "external device: queue family " +
                                                    std::to_string(external.queue_family) +
                                                    " does not exist or has no compute support");
    if (external.queue_index >= families[external.queue_family].queueCount)
        throw Error(ErrorCode::InvalidArgument, "external device: queue index " +
                                                    std::to_string(external.queue_index) + " is past the " +
                                                    std::to_string(families[external.queue_family].queueCount) +
                                                    " queue(s) of family " + std::to_string(external.queue_family));
    if (external.transfer_queue) {
        auto [family, index] = *external.transfer_queue;
        if (family >= count || index >= families[family].queueCount ||
            !(families[family].queueFlags & (VK_QUEUE_TRANSFER_BIT | VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)))
            throw Error(ErrorCode::InvalidArgument, "external device: transfer queue " + std::to_string(index) +
                                                        " of family " + std::to_string(family) +
                                                        " does not exist or cannot copy");
        if (family == external.queue_family && index == external.queue_index)
            throw Error(ErrorCode::InvalidArgument,
                        "external device: the transfer queue is the compute queue; leave it unset instead");
    }
    if (bool(external.lock_queue) != bool(external.unlock_queue))
        throw Error(ErrorCode::InvalidArgument, "external device: pass both lock_queue and unlock_queue, or neither");
    std::unique_ptr<Context> ctx(new Context());
    ctx->instance_ = external.instance;
    ctx->physical_device_ = external.physical_device;
    ctx->device_ = external.device;
    ctx->compute_.family = external.queue_family;
    ctx->compute_.index = external.queue_index;
    if (external.transfer_queue) {
        ctx->has_transfer_ = true;
        ctx->transfer_.family = external.transfer_queue->first;
        ctx->transfer_.index = external.transfer_queue->second;
    }
    ctx->host_lock_ = external.lock_queue;
    ctx->host_unlock_ = external.unlock_queue;
    ctx->init_device_objects();
    return ctx;
}

class Context::QueueLock {
public:
    QueueLock(const Context& ctx, const Queue& queue) : ctx_(ctx), queue_(queue), guard_(*queue.lock) {
        if (ctx_.host_lock_) ctx_.host_lock_(queue_.queue);
    }
    ~QueueLock() {
        if (ctx_.host_unlock_) ctx_.host_unlock_(queue_.queue);
    }
    QueueLock(const QueueLock&) = delete;
    QueueLock& operator=(const QueueLock&) = delete;

private:
    const Context& ctx_;
    const Queue& queue_;
    std::lock_guard<std::mutex> guard_;
};

void Context::init_device_objects() {
    volkLoadDeviceTable(&table_, device_);
    info_ = describe(physical_device_, compute_.family);
    vkGetPhysicalDeviceMemoryProperties(physical_device_, &memory_properties_);

    auto make_queue = [&](Queue& q, std::mutex& lock) {
        table_.vkGetDeviceQueue(device_, q.family, q.index, &q.queue);
        VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
        type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
        VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
        MOEVK_VK_CHECK(table_.vkCreateSemaphore(device_, &info, nullptr, &q.timeline));
        q.lock = &lock;
    };
    make_queue(compute_, compute_lock_);
    if (has_transfer_) make_queue(transfer_, transfer_lock_);

    device_arena_ = std::make_unique<Arena>(*this, MemoryKind::Device);
    host_arena_ = std::make_unique<Arena>(*this, MemoryKind::Host);

    VkPipelineCacheCreateInfo cache{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    MOEVK_VK_CHECK(table_.vkCreatePipelineCache(device_, &cache, nullptr, &pipeline_cache_));
}

Context::~Context() {
    if (device_ != VK_NULL_HANDLE) {
        // Only our own queues: the host may be using others of its device.
        try {
            wait_idle();
        } catch (...) {
            // A lost device cannot be waited on; destruction proceeds regardless.
        }
        pipelines_.clear();
        device_arena_.reset();
        host_arena_.reset();
        if (pipeline_cache_) table_.vkDestroyPipelineCache(device_, pipeline_cache_, nullptr);
        for (Queue* q : {&compute_, &transfer_})
            if (q->timeline) table_.vkDestroySemaphore(device_, q->timeline, nullptr);
        if (owns_device_) table_.vkDestroyDevice(device_, nullptr);
    }
    if (messenger_) destroy_messenger_(instance_, messenger_, nullptr);
    if (owns_instance_ && instance_) destroy_instance_(instance_, nullptr);
}

uint32_t Context::memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                              VkMemoryPropertyFlags preferred) const {
    std::optional<uint32_t> fallback;
    for (uint32_t i = 0; i < memory_properties_.memoryTypeCount; ++i) {
        if (!(type_bits & (1u << i))) continue;
        VkMemoryPropertyFlags flags = memory_properties_.memoryTypes[i].propertyFlags;
        if ((flags & required) != required) continue;
        if ((flags & preferred) == preferred) return i;
        if (!fallback) fallback = i;
    }
    if (!fallback)
        throw Error(ErrorCode::OutOfMemory, "no Vulkan memory type has property flags " +
                                                std::to_string(required) + " for type bits " +
                                                std::to_string(type_bits));
    return *fallback;
}

uint64_t Context::submit(Queue& queue, VkCommandBuffer commands,
                         const std::vector<std::pair<const Queue*, uint64_t>>& waits) {
    QueueLock guard(*this, queue);
    uint64_t signal = queue.last_value + 1;
    std::vector<VkSemaphore> wait_semaphores;
    std::vector<uint64_t> wait_values;
    std::vector<VkPipelineStageFlags> wait_stages;
    for (const auto& [q, value] : waits) {
        wait_semaphores.push_back(q->timeline);
        wait_values.push_back(value);
        wait_stages.push_back(VK_PIPELINE_STAGE_ALL_COMMANDS_BIT);
    }
    VkTimelineSemaphoreSubmitInfo timeline{VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO};
    timeline.waitSemaphoreValueCount = static_cast<uint32_t>(wait_values.size());
    timeline.pWaitSemaphoreValues = wait_values.data();
    timeline.signalSemaphoreValueCount = 1;
    timeline.pSignalSemaphoreValues = &signal;
    VkSubmitInfo info{VK_STRUCTURE_TYPE_SUBMIT_INFO, &timeline};
    info.waitSemaphoreCount = static_cast<uint32_t>(wait_semaphores.size());
    info.pWaitSemaphores = wait_semaphores.data();
    info.pWaitDstStageMask = wait_stages.data();
    info.commandBufferCount = 1;
    info.pCommandBuffers = &commands;
    info.signalSemaphoreCount = 1;
    info.pSignalSemaphores = &queue.timeline;
    MOEVK_VK_CHECK(table_.vkQueueSubmit(queue.queue, 1, &info, VK_NULL_HANDLE));
    queue.last_value = signal;
    return signal;
}

void Context::wait(const Queue& queue, uint64_t value) {
    if (value == 0) return;
    VkSemaphoreWaitInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO};
    info.semaphoreCount = 1;
    info.pSemaphores = &queue.timeline;
    info.pValues = &value;
    VkResult result = table_.vkWaitSemaphores(device_, &info, kWaitTimeoutNs);
    if (result == VK_TIMEOUT)
        throw Error(ErrorCode::Vulkan, "GPU work did not finish within 600 s (timeline value " +
                                           std::to_string(value) + ")");
    MOEVK_VK_CHECK(result);
}

uint64_t Context::completed(const Queue& queue) const {
    uint64_t value = 0;
    MOEVK_VK_CHECK(table_.vkGetSemaphoreCounterValue(device_, queue.timeline, &value));
    return value;
}

void Context::wait_idle() {
    wait(compute_, compute_.last_value);
    if (has_transfer_) wait(transfer_, transfer_.last_value);
    // The timelines say the work is done; a driver may still be retiring the submissions on a
    // thread of its own (Mesa's, when a submit waits on a value not yet signalled). Objects
    // those submissions name may only be destroyed once the queue is idle.
    for (Queue* q : {&compute_, &transfer_}) {
        if (q->queue == VK_NULL_HANDLE) continue;
        QueueLock guard(*this, *q);
        MOEVK_VK_CHECK(table_.vkQueueWaitIdle(q->queue));
    }
}

ComputePipeline& Context::pipeline(const std::string& shader, const std::vector<uint32_t>& spec) {
    std::string key = shader;
    for (uint32_t v : spec) {
        key += ':';
        key += std::to_string(v);
    }
    std::lock_guard<std::mutex> guard(pipelines_lock_);
    auto it = pipelines_.find(key);
    if (it != pipelines_.end()) return *it->second;
    auto created = std::make_unique<ComputePipeline>(*this, shader, spec);
    ComputePipeline& ref = *created;
    pipelines_.emplace(key, std::move(created));
    return ref;
}

}  // namespace moevk::gpu
