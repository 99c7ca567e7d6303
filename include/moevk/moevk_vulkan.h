/* moe-vk on a Vulkan device the host application owns (a game or a tool with its own
 * renderer). The engine creates no VkInstance and no VkDevice of its own, only buffers,
 * pipelines, command pools, query pools and timeline semaphores on the host's device, and
 * destroys only those.
 *
 * What the host's device must have: Vulkan 1.2 with the features bufferDeviceAddress and
 * timelineSemaphore enabled (VkPhysicalDeviceVulkan12Features), and a queue whose family
 * supports compute. No extension is needed.
 * moevk_host_device_requirements() says the same at run time.
 *
 * Sharing a queue with a renderer: Vulkan requires that no two threads use a VkQueue at once.
 * When the host submits to the same queue from another thread, it passes lock_queue and
 * unlock_queue: the engine calls them around each of its vkQueueSubmit calls on that queue,
 * and waits for its own work on timeline semaphores without the lock. The one exception is the
 * end: destroying the engine calls vkQueueWaitIdle under the lock (drivers may still be
 * retiring submissions that name the engine's semaphores), which also waits for the host's
 * work on that queue. A host that submits only from the thread that also calls the engine
 * needs no callbacks.
 */
#ifndef MOEVK_MOEVK_VULKAN_H
#define MOEVK_MOEVK_VULKAN_H

#include <vulkan/vulkan_core.h>

#include "moevk.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*moevk_queue_lock_callback)(void* user, VkQueue queue);

typedef struct moevk_host_device {
    uint32_t struct_size;
    /* How the engine reaches Vulkan: the host's loader entry point (vkGetInstanceProcAddr, or
     * the one its own loader or layer chain gives). Required. */
    PFN_vkGetInstanceProcAddr get_instance_proc_addr;
    VkInstance instance;
    VkPhysicalDevice physical_device;
    VkDevice device;
    uint32_t queue_family; /* a family with compute */
    uint32_t queue_index;
    /* A second queue the host gave the engine for expert uploads (optional). */
    int has_transfer_queue;
    uint32_t transfer_queue_family;
    uint32_t transfer_queue_index;
    /* Around the engine's use of each queue, when the host uses it too (optional; both or none). */
    moevk_queue_lock_callback lock_queue;
    moevk_queue_lock_callback unlock_queue;
    void* queue_lock_user;
} moevk_host_device;

MOEVK_API moevk_host_device moevk_host_device_default(void);
/* An engine on the host's device. */
MOEVK_API moevk_status moevk_engine_create_on_device(const moevk_host_device* device, moevk_engine** engine);
/* Turns on, in the host's feature struct for vkCreateDevice, what the engine needs
 * (bufferDeviceAddress and timelineSemaphore); the other fields are left as they are. */
MOEVK_API void moevk_host_device_enable_features(VkPhysicalDeviceVulkan12Features* features);
/* The API version and the text of what a host device must enable (see above). */
MOEVK_API uint32_t moevk_host_device_api_version(void);
MOEVK_API const char* moevk_host_device_requirements(void);

#ifdef __cplusplus
}
#endif

#endif /* MOEVK_MOEVK_VULKAN_H */
