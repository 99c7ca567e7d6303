#include "gpu/commands.h"

#include <algorithm>
#include <cstring>

#include "gpu/context.h"
#include "gpu/error.h"
#include "gpu/pipeline.h"

namespace moevk::gpu {

TimestampPool::TimestampPool(Context& ctx, uint32_t count) : ctx_(ctx), count_(count) {
    if (ctx.info().timestamp_period_ns <= 0)
        throw Error(ErrorCode::InvalidArgument,
                    "the compute queue of " + ctx.info().name + " does not support timestamps");
    VkQueryPoolCreateInfo info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    info.queryCount = count;
    MOEVK_VK_CHECK(ctx.vk().vkCreateQueryPool(ctx.device(), &info, nullptr, &pool_));
}

TimestampPool::~TimestampPool() { ctx_.vk().vkDestroyQueryPool(ctx_.device(), pool_, nullptr); }

std::vector<double> TimestampPool::read_ns(uint32_t count) const {
    count = std::min(count, count_);
    if (count == 0) return {};
    std::vector<uint64_t> ticks(count);
    MOEVK_VK_CHECK(ctx_.vk().vkGetQueryPoolResults(ctx_.device(), pool_, 0, count,
                                                  ticks.size() * sizeof(uint64_t), ticks.data(),
                                                  sizeof(uint64_t),
                                                  VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    std::vector<double> ns(count);
    for (uint32_t i = 0; i < count; ++i)
        ns[i] = static_cast<double>(ticks[i] - ticks[0]) * ctx_.info().timestamp_period_ns;
    return ns;
}

CommandBuffer::CommandBuffer(Context& ctx, Queue& queue)
    : ctx_(ctx), queue_(queue), compute_(queue.family == ctx.compute_queue().family) {
    VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pool_info.flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT;
    pool_info.queueFamilyIndex = queue.family;
    MOEVK_VK_CHECK(ctx.vk().vkCreateCommandPool(ctx.device(), &pool_info, nullptr, &pool_));
    VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = pool_;
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    VkResult result = ctx.vk().vkAllocateCommandBuffers(ctx.device(), &alloc, &buffer_);
    if (result != VK_SUCCESS) {
        ctx.vk().vkDestroyCommandPool(ctx.device(), pool_, nullptr);
        throw_vk_error(result, "vkAllocateCommandBuffers", __FILE__, __LINE__);
    }
}

CommandBuffer::~CommandBuffer() { ctx_.vk().vkDestroyCommandPool(ctx_.device(), pool_, nullptr); }

void CommandBuffer::begin() {
    MOEVK_VK_CHECK(ctx_.vk().vkResetCommandPool(ctx_.device(), pool_, 0));
    VkCommandBufferBeginInfo info{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    info.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    MOEVK_VK_CHECK(ctx_.vk().vkBeginCommandBuffer(buffer_, &info));
    recording_ = true;
}

void CommandBuffer::end() {
    // The host reads mapped results after waiting on the timeline; Vulkan makes device writes
    // visible to the host only through a barrier to the host stage.
    VkMemoryBarrier to_host{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    to_host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | (compute_ ? VK_ACCESS_SHADER_WRITE_BIT : 0);
    to_host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    ctx_.vk().vkCmdPipelineBarrier(buffer_, VK_PIPELINE_STAGE_TRANSFER_BIT | (compute_ ? VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT : 0),
                                   VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, nullptr, 0, nullptr);
    MOEVK_VK_CHECK(ctx_.vk().vkEndCommandBuffer(buffer_));
    recording_ = false;
}

static void bind(const VolkDeviceTable& vk, VkCommandBuffer cb, ComputePipeline& pipeline,
                 const void* push, uint32_t push_bytes) {
    if (push_bytes > kPushConstantBytes)
        throw Error(ErrorCode::InvalidArgument, "shader " + pipeline.name() + ": " +
                                                    std::to_string(push_bytes) +
                                                    " bytes of push constants exceed 128");
    vk.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.handle());
    if (push_bytes > 0)
        vk.vkCmdPushConstants(cb, pipeline.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
}

void CommandBuffer::dispatch(ComputePipeline& pipeline, const void* push, uint32_t push_bytes,
                             uint32_t elements_x, uint32_t groups_y, uint32_t groups_z) {
    uint32_t groups_x = (elements_x + pipeline.local_size_x() - 1) / pipeline.local_size_x();
    dispatch_groups(pipeline, push, push_bytes, groups_x, groups_y, groups_z);
}

void CommandBuffer::dispatch_groups(ComputePipeline& pipeline, const void* push, uint32_t push_bytes,
                                    uint32_t groups_x, uint32_t groups_y, uint32_t groups_z) {
    if (groups_x == 0 || groups_y == 0 || groups_z == 0) return;
    bind(ctx_.vk(), buffer_, pipeline, push, push_bytes);
    ctx_.vk().vkCmdDispatch(buffer_, groups_x, groups_y, groups_z);
}

void CommandBuffer::dispatch_indirect(ComputePipeline& pipeline, const void* push, uint32_t push_bytes,
                                      const Buffer& args, VkDeviceSize offset) {
    bind(ctx_.vk(), buffer_, pipeline, push, push_bytes);
    ctx_.vk().vkCmdDispatchIndirect(buffer_, args.handle(), args.offset() + offset);
}

void CommandBuffer::barrier() {
    if (!compute_) {
        // A transfer-only queue: order copies after copies.
        VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
        ctx_.vk().vkCmdPipelineBarrier(buffer_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                                       &mb, 0, nullptr, 0, nullptr);
        return;
    }
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                       VK_ACCESS_INDIRECT_COMMAND_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT;
    ctx_.vk().vkCmdPipelineBarrier(
        buffer_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT |
            VK_PIPELINE_STAGE_TRANSFER_BIT,
        0, 1, &mb, 0, nullptr, 0, nullptr);
}

void CommandBuffer::copy(const Buffer& src, VkDeviceSize src_offset, const Buffer& dst,
                         VkDeviceSize dst_offset, VkDeviceSize bytes) {
    VkBufferCopy region{src.offset() + src_offset, dst.offset() + dst_offset, bytes};
    ctx_.vk().vkCmdCopyBuffer(buffer_, src.handle(), dst.handle(), 1, &region);
}

void CommandBuffer::fill(const Buffer& dst, uint32_t word, VkDeviceSize offset, VkDeviceSize bytes) {
    VkDeviceSize size = bytes == VK_WHOLE_SIZE ? dst.size() - offset : bytes;
    ctx_.vk().vkCmdFillBuffer(buffer_, dst.handle(), dst.offset() + offset, size / 4 * 4, word);
}

void CommandBuffer::update(const Buffer& dst, VkDeviceSize offset, const void* data, VkDeviceSize bytes) {
    if (bytes == 0 || bytes % 4 != 0 || bytes > 65536 || offset % 4 != 0 || offset > dst.size() ||
        bytes > dst.size() - offset)
        throw Error(ErrorCode::InvalidArgument, "command buffer update: " + std::to_string(bytes) +
                                                    " bytes at offset " + std::to_string(offset) +
                                                    " into a buffer of " + std::to_string(dst.size()) +
                                                    " (multiples of 4, at most 65536, inside the buffer)");
    ctx_.vk().vkCmdUpdateBuffer(buffer_, dst.handle(), dst.offset() + offset, bytes, data);
}

void CommandBuffer::reset_timestamps(TimestampPool& pool) {
    ctx_.vk().vkCmdResetQueryPool(buffer_, pool.handle(), 0, pool.count());
}

void CommandBuffer::timestamp(TimestampPool& pool, uint32_t index) {
    ctx_.vk().vkCmdWriteTimestamp(buffer_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool.handle(), index);
}

void CommandBuffer::submit_and_wait() {
    if (recording_) end();
    ctx_.wait(queue_, ctx_.submit(queue_, buffer_));
}

namespace {
// Staging copies move at most this much per submit, so a multi-GB upload needs no multi-GB
// staging buffer.
constexpr VkDeviceSize kStagingChunk = 64ull << 20;

void check_range(const Buffer& buf, VkDeviceSize offset, VkDeviceSize bytes, const char* what) {
    if (!buf || offset > buf.size() || bytes > buf.size() - offset)  // no wrap-around
        throw Error(ErrorCode::InvalidArgument,
                    std::string(what) + ": " + std::to_string(bytes) + " bytes at offset " +
                        std::to_string(offset) + " do not fit a buffer of " +
                        std::to_string(buf ? buf.size() : 0) + " bytes");
}
}  // namespace

void upload(Context& ctx, const Buffer& dst, const void* src, VkDeviceSize bytes, VkDeviceSize dst_offset) {
    check_range(dst, dst_offset, bytes, "upload");
    if (bytes == 0) return;
    if (dst.mapped()) {
        std::memcpy(static_cast<uint8_t*>(dst.mapped()) + dst_offset, src, bytes);
        return;
    }
    Buffer staging = ctx.allocate(std::min(bytes, kStagingChunk), MemoryKind::Host, "upload staging");
    CommandBuffer cb(ctx, ctx.transfer_queue());
    for (VkDeviceSize done = 0; done < bytes;) {
        VkDeviceSize n = std::min(bytes - done, kStagingChunk);
        std::memcpy(staging.mapped(), static_cast<const uint8_t*>(src) + done, n);
        cb.begin();
        cb.copy(staging, 0, dst, dst_offset + done, n);
        cb.submit_and_wait();
        done += n;
    }
}

void download(Context& ctx, const Buffer& src, void* dst, VkDeviceSize bytes, VkDeviceSize src_offset) {
    check_range(src, src_offset, bytes, "download");
    if (bytes == 0) return;
    if (src.mapped()) {
        std::memcpy(dst, static_cast<const uint8_t*>(src.mapped()) + src_offset, bytes);
        return;
    }
    Buffer staging = ctx.allocate(std::min(bytes, kStagingChunk), MemoryKind::Host, "download staging");
    CommandBuffer cb(ctx, ctx.transfer_queue());
    for (VkDeviceSize done = 0; done < bytes;) {
        VkDeviceSize n = std::min(bytes - done, kStagingChunk);
        cb.begin();
        cb.copy(src, src_offset + done, staging, 0, n);
        cb.submit_and_wait();
        std::memcpy(static_cast<uint8_t*>(dst) + done, staging.mapped(), n);
        done += n;
    }
}

void fill(Context& ctx, const Buffer& dst, uint32_t word) {
    CommandBuffer cb(ctx, ctx.compute_queue());
    cb.begin();
    cb.fill(dst, word);
    cb.submit_and_wait();
}

}  // namespace moevk::gpu
