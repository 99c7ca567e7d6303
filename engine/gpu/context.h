// A Vulkan device the engine computes on: either one it chose and created itself, or one the
// host application already owns (a game), in which case the engine creates no instance or device
// and destroys nothing it did not create.
//
// Baseline: Vulkan 1.2 with bufferDeviceAddress and timelineSemaphore (every Vulkan 1.2 desktop
// driver, MoltenVK and lavapipe have both). Shaders reach buffers through device addresses in
// push constants, so there are no descriptor sets and no maxStorageBufferRange limit on tensors.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gpu/memory.h"
#include "gpu/vulkan.h"

namespace moevk::gpu {

class ComputePipeline;

enum class DeviceKind { Discrete, Integrated, Virtual, Cpu, Other };
const char* device_kind_name(DeviceKind kind);

// Optional features, detected at start. Every shader has a path that needs none of them.
struct OptionalFeatures {
    bool shader_float16 = false;
    bool storage_16bit = false;
    bool storage_8bit = false;
    bool shader_int8 = false;
    bool subgroup_arithmetic = false;
    bool integer_dot_product = false;
};

struct DeviceInfo {
    std::string name;
    DeviceKind kind = DeviceKind::Other;
    uint32_t api_version = 0;
    uint32_t vendor_id = 0;
    uint32_t subgroup_size = 0;
    uint32_t max_workgroup_invocations = 0;
    uint32_t max_shared_memory = 0;
    uint64_t max_storage_buffer_range = 0;
    uint64_t max_allocation_size = 0;
    uint64_t device_local_bytes = 0;  // size of the largest device-local heap
    double timestamp_period_ns = 0;    // 0 when the compute queue has no timestamps
    OptionalFeatures features;
};

struct PhysicalDeviceChoice {
    std::optional<uint32_t> index;  // position in vkEnumeratePhysicalDevices order
    std::string name_contains;      // case-insensitive substring of the device name
};

struct ContextOptions {
    PhysicalDeviceChoice device;
    // Turns on VK_LAYER_KHRONOS_validation; each message goes to on_validation_message.
    bool validation = false;
    std::function<void(const std::string&)> on_validation_message;
};

// What a host application that owns the device hands over. The device must have been created
// with bufferDeviceAddress and timelineSemaphore enabled (Vulkan 1.2 features) and with a queue
// of `queue_family` that supports compute. The engine synchronises its own use of its queues;
// a host that submits to one of them too passes lock_queue / unlock_queue, which the engine
// calls around each of its vkQueueSubmit and vkQueueWaitIdle on that queue.
struct ExternalDevice {
    VkInstance instance = VK_NULL_HANDLE;
    VkPhysicalDevice physical_device = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    uint32_t queue_family = 0;
    uint32_t queue_index = 0;
    // Optional: a queue of the host's for expert uploads.
    std::optional<std::pair<uint32_t, uint32_t>> transfer_queue;  // family, index
    // How the engine reaches Vulkan; null: the system loader's.
    PFN_vkGetInstanceProcAddr get_instance_proc_addr = nullptr;
    std::function<void(VkQueue)> lock_queue, unlock_queue;
};

// A queue with its own timeline semaphore: every submit signals the next value.
struct Queue {
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0;
    uint32_t index = 0;
    VkSemaphore timeline = VK_NULL_HANDLE;
    uint64_t last_value = 0;
    std::mutex* lock = nullptr;
};

// Lists the devices the loader offers, in enumeration order, for --list-devices style output.
std::vector<DeviceInfo> list_devices();

class Context {
public:
    static std::unique_ptr<Context> create(const ContextOptions& options = {});
    static std::unique_ptr<Context> adopt(const ExternalDevice& external);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    const VolkDeviceTable& vk() const { return table_; }
    VkDevice device() const { return device_; }
    VkPhysicalDevice physical_device() const { return physical_device_; }
    VkInstance instance() const { return instance_; }
    const DeviceInfo& info() const { return info_; }
    bool owns_device() const { return owns_device_; }

    Queue& compute_queue() { return compute_; }
    // The dedicated transfer queue where the device has one, else the compute queue.
    Queue& transfer_queue() { return has_transfer_ ? transfer_ : compute_; }
    bool has_dedicated_transfer_queue() const { return has_transfer_; }

    const VkPhysicalDeviceMemoryProperties& memory_properties() const { return memory_properties_; }
    uint32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                         VkMemoryPropertyFlags preferred) const;

    // Submits one command buffer; it waits for each (queue, value) pair in `waits` and signals
    // the returned value on the queue's timeline.
    uint64_t submit(Queue& queue, VkCommandBuffer commands,
                    const std::vector<std::pair<const Queue*, uint64_t>>& waits = {});
    void wait(const Queue& queue, uint64_t value);
    // The last value the queue's timeline has reached: work up to it has completed.
    uint64_t completed(const Queue& queue) const;
    // Waits for everything submitted to the engine's queues, and for the driver to retire it:
    // semaphores and command buffers those submissions name may be destroyed afterwards.
    void wait_idle();

    // Buffers must be destroyed before the Context that made them.
    Buffer allocate(VkDeviceSize bytes, MemoryKind kind, const std::string& what) {
        return arena(kind).allocate(bytes, what);
    }
    Arena& arena(MemoryKind kind) { return kind == MemoryKind::Host ? *host_arena_ : *device_arena_; }

    // Pipelines are built once per (shader, specialisation constants) and kept.
    ComputePipeline& pipeline(const std::string& shader, const std::vector<uint32_t>& spec = {});
    VkPipelineCache pipeline_cache() const { return pipeline_cache_; }

private:
    Context() = default;
    void init_device_objects();
    // Holds the queue's lock, and the host's where it shares the queue, for one queue operation.
    class QueueLock;

    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    // volk's instance-level pointers are process-global and follow the last instance loaded;
    // the ones that tear down this Context's own instance are kept here.
    PFN_vkDestroyInstance destroy_instance_ = nullptr;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger_ = nullptr;
    VkPhysicalDevice physical_device_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    bool owns_instance_ = false;
    bool owns_device_ = false;
    VolkDeviceTable table_{};
    DeviceInfo info_;
    VkPhysicalDeviceMemoryProperties memory_properties_{};
    Queue compute_;
    Queue transfer_;
    bool has_transfer_ = false;
    std::mutex compute_lock_;
    std::mutex transfer_lock_;
    std::function<void(VkQueue)> host_lock_, host_unlock_;
    std::function<void(const std::string&)> on_validation_message_;
    VkPipelineCache pipeline_cache_ = VK_NULL_HANDLE;
    std::mutex pipelines_lock_;
    std::map<std::string, std::unique_ptr<ComputePipeline>> pipelines_;
    std::unique_ptr<Arena> device_arena_;
    std::unique_ptr<Arena> host_arena_;
};

}  // namespace moevk::gpu
