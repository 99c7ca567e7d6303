// Command recording over raw Vulkan: dispatches sized in elements, the one barrier compute work
// needs between dependent dispatches, copies, fills and timestamps.
#pragma once

#include <cstdint>
#include <vector>

#include "gpu/memory.h"
#include "gpu/vulkan.h"

namespace moevk::gpu {

class Context;
class ComputePipeline;
struct Queue;

class TimestampPool {
public:
    TimestampPool(Context& ctx, uint32_t count);
    ~TimestampPool();
    TimestampPool(const TimestampPool&) = delete;
    TimestampPool& operator=(const TimestampPool&) = delete;

    VkQueryPool handle() const { return pool_; }
    uint32_t count() const { return count_; }
    // Nanoseconds of each written timestamp since the first; call after the work finished.
    // With `count`, only the first `count` queries (the rest may be unwritten).
    std::vector<double> read_ns() const { return read_ns(count_); }
    std::vector<double> read_ns(uint32_t count) const;

private:
    Context& ctx_;
    VkQueryPool pool_ = VK_NULL_HANDLE;
    uint32_t count_;
};

class CommandBuffer {
public:
    CommandBuffer(Context& ctx, Queue& queue);
    ~CommandBuffer();
    CommandBuffer(const CommandBuffer&) = delete;
    CommandBuffer& operator=(const CommandBuffer&) = delete;

    // Starts a new recording; the previous one must have finished executing.
    void begin();
    void end();
    VkCommandBuffer handle() const { return buffer_; }
    Queue& queue() const { return queue_; }

    // Dispatches ceil(elements_x / local_size_x) x groups_y x groups_z workgroups.
    void dispatch(ComputePipeline& pipeline, const void* push, uint32_t push_bytes,
                  uint32_t elements_x, uint32_t groups_y = 1, uint32_t groups_z = 1);
    void dispatch_groups(ComputePipeline& pipeline, const void* push, uint32_t push_bytes,
                         uint32_t groups_x, uint32_t groups_y = 1, uint32_t groups_z = 1);
    // Workgroup counts read from `args` (three uint32) at `offset` bytes, written by the GPU.
    void dispatch_indirect(ComputePipeline& pipeline, const void* push, uint32_t push_bytes,
                           const Buffer& args, VkDeviceSize offset);
    // Makes earlier shader and transfer writes visible to later shader reads, indirect argument
    // reads and transfers.
    void barrier();
    void copy(const Buffer& src, VkDeviceSize src_offset, const Buffer& dst, VkDeviceSize dst_offset,
              VkDeviceSize bytes);
    void fill(const Buffer& dst, uint32_t word, VkDeviceSize offset = 0, VkDeviceSize bytes = VK_WHOLE_SIZE);
    // Writes `bytes` (a multiple of 4, at most 65536) from host memory into the command buffer
    // itself, to land at `offset` when it executes: small table rewrites with no staging.
    void update(const Buffer& dst, VkDeviceSize offset, const void* data, VkDeviceSize bytes);
    void reset_timestamps(TimestampPool& pool);
    void timestamp(TimestampPool& pool, uint32_t index);

    // Ends, submits and waits: the simple path for tests and one-off work.
    void submit_and_wait();

private:
    Context& ctx_;
    Queue& queue_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer buffer_ = VK_NULL_HANDLE;
    bool recording_ = false;
    // False on a dedicated transfer queue, whose barriers may name transfer stages only.
    bool compute_;
};

// Synchronous copies between host memory and a buffer, through a staging buffer unless the
// buffer's memory is host-visible.
void upload(Context& ctx, const Buffer& dst, const void* src, VkDeviceSize bytes, VkDeviceSize dst_offset = 0);
void download(Context& ctx, const Buffer& src, void* dst, VkDeviceSize bytes, VkDeviceSize src_offset = 0);
// Sets every 32-bit word of the buffer to `word` (tests poison outputs with NaN patterns).
void fill(Context& ctx, const Buffer& dst, uint32_t word);

template <class T>
void upload(Context& ctx, const Buffer& dst, const std::vector<T>& src) {
    upload(ctx, dst, src.data(), src.size() * sizeof(T));
}
template <class T>
std::vector<T> download(Context& ctx, const Buffer& src, size_t count) {
    std::vector<T> out(count);
    download(ctx, src, out.data(), count * sizeof(T));
    return out;
}

}  // namespace moevk::gpu
