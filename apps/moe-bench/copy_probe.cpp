#include "copy_probe.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "gpu/commands.h"
#include "gpu/pipeline.h"

namespace moebench {

using namespace moevk;

ProbeResult measure_copy_bandwidth(gpu::Context& ctx, double min_seconds) {
    // 256 MiB each way is far beyond any cache, and small enough for every device we target.
    uint64_t bytes = std::min<uint64_t>(256ull << 20, ctx.info().max_allocation_size);
    gpu::Buffer src = ctx.allocate(bytes, gpu::MemoryKind::Device, "copy probe source");
    gpu::Buffer dst = ctx.allocate(bytes, gpu::MemoryKind::Device, "copy probe destination");
    gpu::fill(ctx, src, 0x3F800000u);

    struct Push {
        VkDeviceAddress src, dst;
        uint32_t n;
    } push{src.address(), dst.address(), static_cast<uint32_t>(bytes / 16)};
    gpu::ComputePipeline& pipeline = ctx.pipeline("copy_probe", {256});
    gpu::TimestampPool stamps(ctx, 2);
    gpu::CommandBuffer cb(ctx, ctx.compute_queue());
    // Enough workgroups to fill any current GPU; each thread then strides through the buffer.
    uint32_t threads = 256 * 4096;

    auto run_once = [&] {
        cb.begin();
        cb.reset_timestamps(stamps);
        cb.timestamp(stamps, 0);
        cb.dispatch(pipeline, &push, sizeof(push), threads);
        cb.timestamp(stamps, 1);
        cb.submit_and_wait();
        return stamps.read_ns()[1] * 1e-9;
    };
    ProbeResult r;
    r.bytes_per_copy = 2.0 * static_cast<double>(bytes);
    r.seconds = summarize(repeat(run_once, min_seconds));
    return r;
}

ProbeResult measure_upload_bandwidth(gpu::Context& ctx, double min_seconds) {
    uint64_t bytes = std::min<uint64_t>(64ull << 20, ctx.info().max_allocation_size);
    gpu::Buffer src = ctx.allocate(bytes, gpu::MemoryKind::Host, "upload probe source");
    gpu::Buffer dst = ctx.allocate(bytes, gpu::MemoryKind::Device, "upload probe destination");
    std::memset(src.mapped(), 0x5A, bytes);
    gpu::CommandBuffer cb(ctx, ctx.transfer_queue());
    auto run_once = [&] {
        auto t0 = std::chrono::steady_clock::now();
        cb.begin();
        cb.copy(src, 0, dst, 0, bytes);
        cb.submit_and_wait();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    ProbeResult r;
    r.bytes_per_copy = static_cast<double>(bytes);
    r.seconds = summarize(repeat(run_once, min_seconds));
    return r;
}

}  // namespace moebench
