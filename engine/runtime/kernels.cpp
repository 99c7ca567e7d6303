#include "runtime/kernels.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "gpu/error.h"
#include "gpu/pipeline.h"
#include "nn_config.h"

namespace moevk::runtime {
namespace {

// Push-constant blocks, mirroring the GLSL `scalar` layouts field for field.
struct RmsnormPush {
    Address x, weight, dst;
    uint32_t rows, n;
    float eps;
};
struct RopePush {
    Address x;
    uint32_t total, n_heads, head_dim, half_rot, pos0, neox;
    float log2_step;
    float freq_scale, ext_factor, corr_low, corr_high, mscale;
};
struct StoreKvPush {
    Address src, cache;
    uint32_t count, first;
};
struct AttentionPush {
    Address q, k, v, dst, sinks;
    uint32_t pos0, n_heads, group, kv_row, head_dim;
    float scale;
    uint32_t window, has_sinks;
};
struct EmbedPush {
    Address table, ids, dst;
    uint32_t n, total;
};
struct AddPush {
    Address x, y;
    uint32_t count;
};
static_assert(sizeof(RmsnormPush) <= gpu::kPushConstantBytes);
static_assert(sizeof(RopePush) == 8 + 12 * 4);
static_assert(sizeof(AttentionPush) == 5 * 8 + 8 * 4);
static_assert(sizeof(AttentionPush) <= gpu::kPushConstantBytes);
static_assert(NN_ATTN_BLOCK == NN_ATTN_THREADS, "attention scores one key per thread");
static_assert(NN_ATTN_MAX_HEAD_DIM % NN_ATTN_THREADS == 0);

constexpr uint64_t kMaxIndex = 0xFFFFFFFFull;  // kernels index elements with 32-bit uints
constexpr uint32_t kMaxGroups = 65535;         // workgroups per dimension every device allows

[[noreturn]] void invalid(const char* op, const std::string& what) {
    throw Error(ErrorCode::InvalidArgument, std::string(op) + ": " + what);
}

void require_address(const char* op, const char* name, Address a) {
    if (a == 0) invalid(op, std::string(name) + " is a null device address");
    if (a % 4 != 0)
        invalid(op, std::string(name) + " address " + std::to_string(a) + " is not 4-byte aligned");
}

// Elements the kernel will index, counted in 64 bits; throws when they pass 32-bit indices.
void require_index_range(const char* op, const char* what, uint64_t elements) {
    if (elements > kMaxIndex)
        invalid(op, std::string(what) + " spans " + std::to_string(elements) +
                        " elements, past the 2^32 a kernel can index");
}

// One thread per element over a 2D grid: NN_GROUPS_X workgroups a row in x, then y.
void dispatch_flat(gpu::CommandBuffer& cb, gpu::ComputePipeline& pipeline, const void* push,
                   uint32_t bytes, uint64_t count) {
    uint64_t groups = (count + pipeline.local_size_x() - 1) / pipeline.local_size_x();
    uint64_t x = std::min<uint64_t>(groups, NN_GROUPS_X);
    uint64_t y = x ? (groups + x - 1) / x : 0;
    cb.dispatch_groups(pipeline, push, bytes, static_cast<uint32_t>(x), static_cast<uint32_t>(y));
}

}  // namespace

const char* kv_format_name(KvFormat format) {
    switch (format) {
        case KvFormat::F32:
            return "f32";
        case KvFormat::F16:
            return "f16";
    }
    return "?";
}

size_t kv_bytes(KvFormat format, size_t values) {
    return values * (format == KvFormat::F16 ? 2 : 4);
}

void record_rmsnorm(gpu::CommandBuffer& cb, gpu::Context& ctx, Address x, Address weight,
                    Address out, uint32_t rows, uint32_t n, float eps) {
    const char* op = "rmsnorm";
    require_address(op, "x", x);
    require_address(op, "weight", weight);
    require_address(op, "out", out);
    if (n == 0) invalid(op, "n must be positive, got 0");
    if (!(eps >= 0.0f) || !std::isfinite(eps))
        invalid(op, "eps must be finite and >= 0, got " + std::to_string(eps));
    require_index_range(op, "x", uint64_t(rows) * n);
    RmsnormPush push{x, weight, out, rows, n, eps};
    uint32_t groups_x = std::min<uint32_t>(rows, NN_GROUPS_X);
    uint32_t groups_y = groups_x ? (rows + groups_x - 1) / groups_x : 0;
    cb.dispatch_groups(ctx.pipeline("rmsnorm", {NN_RMSNORM_THREADS}), &push, sizeof(push), groups_x,
                       groups_y);
}

void record_rope(gpu::CommandBuffer& cb, gpu::Context& ctx, Address x, uint32_t tokens,
                 uint32_t n_heads, uint32_t head_dim, uint32_t n_rot, uint32_t pos0,
                 float freq_base, bool neox, const RopeScalingParams& scaling) {
    const char* op = "rope";
    require_address(op, "x", x);
    if (n_heads == 0) invalid(op, "n_heads must be positive, got 0");
    for (float v : {scaling.freq_scale, scaling.mscale})
        if (!(v > 0.0f) || !std::isfinite(v))
            invalid(op, "freq_scale and mscale must be finite and positive, got " + std::to_string(v));
    if (n_rot < 2 || n_rot % 2 != 0 || n_rot > head_dim)
        invalid(op, "n_rot must be even and in 2..head_dim (" + std::to_string(head_dim) +
                        "), got " + std::to_string(n_rot));
    if (!(freq_base > 0.0f) || !std::isfinite(freq_base))
        invalid(op, "freq_base must be finite and positive, got " + std::to_string(freq_base));
    // Positions are converted to f32 in the kernel; past 2^24 they would round.
    if (uint64_t(pos0) + tokens > (1u << 24))
        invalid(op, "positions up to pos0 + tokens = " + std::to_string(uint64_t(pos0) + tokens) +
                        " pass 2^24, the largest exact in f32");
    require_index_range(op, "x", uint64_t(tokens) * n_heads * head_dim);
    uint32_t half_rot = n_rot / 2;
    RopePush push{x,
                  tokens * n_heads * half_rot,
                  n_heads,
                  head_dim,
                  half_rot,
                  pos0,
                  neox ? 1u : 0u,
                  static_cast<float>(-2.0 * std::log2(double(freq_base)) / n_rot),
                  scaling.freq_scale,
                  scaling.ext_factor,
                  scaling.corr_low,
                  scaling.corr_high,
                  scaling.mscale};
    dispatch_flat(cb, ctx.pipeline("rope", {NN_ELEMENTWISE_THREADS}), &push, sizeof(push),
                  push.total);
}

void record_store_kv(gpu::CommandBuffer& cb, gpu::Context& ctx, Address src, Address cache,
                     KvFormat format, uint32_t tokens, uint32_t pos0, uint32_t row) {
    const char* op = "store_kv";
    require_address(op, "src", src);
    require_address(op, "cache", cache);
    if (row == 0) invalid(op, "row must be positive, got 0");
    if (format == KvFormat::F16 && row % 2 != 0)
        invalid(op,
                "an f16 cache needs an even row (two halves a word), got " + std::to_string(row));
    require_index_range(op, "cache rows up to pos0 + tokens", (uint64_t(pos0) + tokens) * row);
    uint32_t per_word = format == KvFormat::F16 ? 2 : 1;
    StoreKvPush push{src, cache, tokens * row / per_word, pos0 * row / per_word};
    const char* shader = format == KvFormat::F16 ? "store_kv_f16" : "store_kv_f32";
    dispatch_flat(cb, ctx.pipeline(shader, {NN_ELEMENTWISE_THREADS}), &push, sizeof(push),
                  push.count);
}

void record_attention(gpu::CommandBuffer& cb, gpu::Context& ctx, Address q, Address k_cache,
                      Address v_cache, KvFormat format, Address out, uint32_t tokens, uint32_t pos0,
                      uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim, float scale,
                      uint32_t window, Address sinks) {
    const char* op = "attention";
    if (sinks) require_address(op, "sinks", sinks);
    require_address(op, "q", q);
    require_address(op, "k_cache", k_cache);
    require_address(op, "v_cache", v_cache);
    require_address(op, "out", out);
    if (head_dim == 0 || head_dim > NN_ATTN_MAX_HEAD_DIM)
        invalid(op, "head_dim must be in 1.." + std::to_string(NN_ATTN_MAX_HEAD_DIM) + ", got " +
                        std::to_string(head_dim));
    if (format == KvFormat::F16 && head_dim % 2 != 0)
        invalid(op, "an f16 cache needs an even head_dim, got " + std::to_string(head_dim));
    if (n_heads == 0 || n_heads > kMaxGroups)
        invalid(op, "n_heads must be in 1..65535, got " + std::to_string(n_heads));
    if (n_kv_heads == 0 || n_heads % n_kv_heads != 0)
        invalid(op, "n_kv_heads must divide n_heads (" + std::to_string(n_heads) + "), got " +
                        std::to_string(n_kv_heads));
    if (tokens > kMaxGroups)
        invalid(op, "tokens must be at most 65535, got " + std::to_string(tokens));
    if (!std::isfinite(scale)) invalid(op, "scale must be finite, got " + std::to_string(scale));
    require_index_range(op, "q", uint64_t(tokens) * n_heads * head_dim);
    require_index_range(op, "the caches up to pos0 + tokens",
                        (uint64_t(pos0) + tokens) * n_kv_heads * head_dim);
    AttentionPush push{q,
                       k_cache,
                       v_cache,
                       out,
                       sinks,
                       pos0,
                       n_heads,
                       n_heads / n_kv_heads,
                       n_kv_heads * head_dim,
                       head_dim,
                       scale,
                       window,
                       sinks != 0 ? 1u : 0u};
    const char* shader = format == KvFormat::F16 ? "attention_f16" : "attention_f32";
    cb.dispatch_groups(ctx.pipeline(shader, {NN_ATTN_THREADS}), &push, sizeof(push), n_heads,
                       tokens);
}

void record_embed(gpu::CommandBuffer& cb, gpu::Context& ctx, quant::WeightFormat format,
                  Address table, Address ids, Address out, uint32_t tokens, uint32_t n) {
    const char* op = "embed";
    require_address(op, "table", table);
    require_address(op, "ids", ids);
    require_address(op, "out", out);
    if (n == 0) invalid(op, "n must be positive, got 0");
    quant::row_bytes(format, n);  // throws when n is not a whole number of blocks
    require_index_range(op, "out", uint64_t(tokens) * n);
    EmbedPush push{table, ids, out, n, tokens * n};
    std::string shader = std::string("embed_") + quant::format_name(format);
    dispatch_flat(cb, ctx.pipeline(shader, {NN_ELEMENTWISE_THREADS}), &push, sizeof(push),
                  push.total);
}

void record_add(gpu::CommandBuffer& cb, gpu::Context& ctx, Address x, Address y, uint32_t count) {
    require_address("add", "x", x);
    require_address("add", "y", y);
    AddPush push{x, y, count};
    dispatch_flat(cb, ctx.pipeline("add", {NN_ELEMENTWISE_THREADS}), &push, sizeof(push), count);
}

}  // namespace moevk::runtime
