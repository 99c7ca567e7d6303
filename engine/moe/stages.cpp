#include "moe/stages.h"

#include <algorithm>
#include <string>

#include "gpu/error.h"
#include "gpu/pipeline.h"

namespace moevk::moe {
namespace {

// Push-constant blocks, mirroring the GLSL `scalar` layouts field for field.
struct RouterPush {
    Address x, weight, logits, bias;
    uint32_t d, n_experts, has_bias;
};
struct TopkPush {
    Address logits, bias, ids, weights;
    uint32_t n_experts, k, gating, has_bias, renormalize;
    float scale;
};
struct HistogramPush {
    Address ids, counts;
    uint32_t n_pairs;
};
struct ScanPush {
    Address counts, kept, offsets, tiles, meta;
    uint32_t n_experts, capacity, tile_rows, gate_up_groups_x, down_groups_x;
};
struct ScatterPush {
    Address ids, kept, offsets, row_pair, pair_row;
    uint32_t n_pairs;
};
struct GemmPush {
    Address x, dst, row_src, tiles, table;
    uint32_t d_in, d_out, pairs_per_token, row_limit;
    Address bias0, bias1;
    uint32_t flags;
};
struct MatvecPush {
    Address x, dst, ids, table;
    uint32_t d_in, d_out, pairs_per_token, has_ids;
    Address bias0, bias1;
    uint32_t flags;
};
struct CombinePush {
    Address y, pair_row, weights, dst, x, shared_gate, shared_y;
    uint32_t d, k, flags;
};
static_assert(sizeof(CombinePush) <= gpu::kPushConstantBytes);
static_assert(sizeof(TopkPush) == 4 * 8 + 6 * 4);
static_assert(sizeof(GemmPush) == 7 * 8 + 5 * 4 + 4);  // padded to 8
static_assert(sizeof(GemmPush) <= gpu::kPushConstantBytes);

uint32_t epilogue_flags(const ExpertEpilogue& e) {
    return (e.bias0 != 0 ? MOE_EXPERT_BIASES : 0u) |
           (e.activation == Activation::SwiGluClamped ? MOE_EXPERT_CLAMPED : 0u);
}

std::string variant(const char* op, quant::WeightFormat format) {
    return std::string(op) + "_" + quant::format_name(format);
}

GemmPush gemm_push(const ExpertGemm& g) {
    return {g.x,     g.dst,   g.row_src,         g.tiles,     g.table,           g.d_in,
            g.d_out, g.pairs_per_token, g.row_limit, g.epilogue.bias0, g.epilogue.bias1, epilogue_flags(g.epilogue)};
}

gpu::ComputePipeline& gemm_pipeline(gpu::Context& ctx, const ExpertGemm& g) {
    GemmGeometry geometry = gemm_geometry(ctx.info(), g.options);
    return ctx.pipeline(variant(g.gate_up ? "expert_gemm_gate_up" : "expert_gemm_down", g.format),
                        {geometry.threads, geometry.columns_per_thread});
}

}  // namespace

void record_router(gpu::CommandBuffer& cb, gpu::Context& ctx, Address x, Address weight, Address logits,
                   uint32_t tokens, uint32_t d, uint32_t n_experts, Address bias) {
    RouterPush push{x, weight, logits, bias, d, n_experts, bias != 0 ? 1u : 0u};
    cb.dispatch_groups(ctx.pipeline("router", {MOE_ROUTER_THREADS}), &push, sizeof(push), n_experts, tokens);
}

void record_topk(gpu::CommandBuffer& cb, gpu::Context& ctx, Address logits, Address bias, Address ids,
                 Address weights, uint32_t tokens, const MoeConfig& c) {
    TopkPush push{logits,
                  bias,
                  ids,
                  weights,
                  c.n_experts,
                  c.top_k,
                  c.gating == Gating::Softmax   ? 0u
                  : c.gating == Gating::Sigmoid ? 1u
                                                : 2u,
                  (c.selection_bias && bias != 0) ? 1u : 0u,
                  c.renormalize ? 1u : 0u,
                  c.weight_scale};
    cb.dispatch_groups(ctx.pipeline("topk", {MOE_MAX_EXPERTS}), &push, sizeof(push), tokens);
}

void record_permute(gpu::CommandBuffer& cb, gpu::Context& ctx, const PermuteBuffers& b, uint32_t n_pairs,
                    uint32_t n_experts, uint32_t capacity, uint32_t gate_up_groups_x, uint32_t down_groups_x) {
    HistogramPush hist{b.ids, b.counts, n_pairs};
    cb.dispatch_groups(ctx.pipeline("permute_histogram", {MOE_PERMUTE_THREADS}), &hist, sizeof(hist), n_experts);
    cb.barrier();
    ScanPush scan{b.counts,  b.kept,   b.offsets,          b.tiles,         b.meta,
                  n_experts, capacity, MOE_GEMM_TILE_ROWS, gate_up_groups_x, down_groups_x};
    cb.dispatch_groups(ctx.pipeline("permute_scan", {MOE_MAX_EXPERTS}), &scan, sizeof(scan), 1);
    cb.barrier();
    ScatterPush scatter{b.ids, b.kept, b.offsets, b.row_pair, b.pair_row, n_pairs};
    cb.dispatch_groups(ctx.pipeline("permute_scatter", {MOE_PERMUTE_THREADS}), &scatter, sizeof(scatter),
                       n_experts);
}

void record_expert_gemm_indirect(gpu::CommandBuffer& cb, gpu::Context& ctx, const ExpertGemm& g,
                                 const gpu::Buffer& args, VkDeviceSize args_offset) {
    GemmPush push = gemm_push(g);
    cb.dispatch_indirect(gemm_pipeline(ctx, g), &push, sizeof(push), args, args_offset);
}

void record_expert_gemm(gpu::CommandBuffer& cb, gpu::Context& ctx, const ExpertGemm& g, uint32_t n_tiles) {
    GemmPush push = gemm_push(g);
    cb.dispatch_groups(gemm_pipeline(ctx, g), &push, sizeof(push), gemm_col_groups(g.d_out), n_tiles);
}

GemmGeometry gemm_geometry(const gpu::DeviceInfo& info, const GemmOptions& options) {
    // A CPU device pays per load instruction (llvmpipe runs each one as a loop over its SIMD
    // lanes), so it takes the widest block a thread can hold; a GPU takes narrow blocks, for
    // more threads a tile and fewer registers a thread.
    uint32_t columns = options.columns_per_thread != 0       ? options.columns_per_thread
                       : info.kind == gpu::DeviceKind::Cpu ? 8u
                                                            : 2u;
    if (columns != 2 && columns != 4 && columns != 8)
        throw Error(ErrorCode::InvalidArgument,
                    "gemm: " + std::to_string(columns) + " columns per thread (use 2, 4 or 8)");
    return {(MOE_GEMM_TILE_ROWS / MOE_GEMM_ROWS_PER_THREAD) * (MOE_GEMM_TILE_COLS / columns), columns};
}

MatvecGeometry matvec_geometry(const gpu::DeviceInfo& info, const MatvecOptions& options) {
    bool available = info.features.subgroup_arithmetic && info.subgroup_size > 0;
    bool subgroup = false;
    switch (options.reduction) {
        case MatvecReduction::Auto:
            subgroup = available;
            break;
        case MatvecReduction::Subgroup:
            if (!available)
                throw Error(ErrorCode::Unsupported,
                            "matvec: subgroup reduction requested but " + info.name +
                                " has no subgroup arithmetic in compute shaders");
            subgroup = true;
            break;
        case MatvecReduction::SharedMemory:
            subgroup = false;
            break;
    }
    uint32_t lanes = options.lanes != 0 ? options.lanes
                     : subgroup         ? info.subgroup_size
                                        : MOE_MATVEC_LANES;
    // A subgroup larger than the usual workgroup gets a workgroup of one row group.
    uint32_t threads = std::max<uint32_t>(MOE_MATVEC_THREADS, lanes);
    if ((lanes & (lanes - 1)) != 0 || threads > info.max_workgroup_invocations)
        throw Error(ErrorCode::InvalidArgument, "matvec: " + std::to_string(lanes) +
                                                    " lanes per row is not a power of two up to " +
                                                    std::to_string(info.max_workgroup_invocations) +
                                                    " (the device's workgroup limit)");
    return {subgroup, threads, lanes, threads / lanes * MOE_MATVEC_ROWS_PER_THREAD};
}

void record_expert_matvec(gpu::CommandBuffer& cb, gpu::Context& ctx, const ExpertMatvec& m) {
    if (m.d_out == 0 || m.n_pairs == 0) return;
    MatvecGeometry g = matvec_geometry(ctx.info(), m.options);
    MatvecPush push{m.x,
                    m.dst,
                    m.ids,
                    m.table,
                    m.d_in,
                    m.d_out,
                    m.pairs_per_token,
                    m.ids != 0 ? 1u : 0u,
                    m.epilogue.bias0,
                    m.epilogue.bias1,
                    epilogue_flags(m.epilogue)};
    // The block formats read x as vec4 where its address allows (rows are whole 32-blocks, so
    // every row of x is then aligned too). A separate pipeline; the results are the same.
    bool x_vec4 = quant::block_values(m.format) > 1 && m.x % 16 == 0;
    std::string op = std::string(g.subgroup ? "expert_matvec_sg_" : "expert_matvec_") +
                     (m.gate_up ? "gate_up" : "down");
    auto& pipeline =
        ctx.pipeline(variant(op.c_str(), m.format), {g.threads, g.lanes, x_vec4 ? 1u : 0u});
    uint32_t groups = (m.d_out + g.rows_per_group - 1) / g.rows_per_group;
    uint32_t y = std::min({groups, std::max(m.options.max_row_groups, 1u), MOE_MATVEC_MAX_ROW_GROUPS});
    cb.dispatch_groups(pipeline, &push, sizeof(push), m.n_pairs, y, (groups + y - 1) / y);
}

void record_combine(gpu::CommandBuffer& cb, gpu::Context& ctx, const Combine& c) {
    uint32_t flags = (c.pair_row ? MOE_COMBINE_PAIR_ROW : 0u) | (c.shared_y ? MOE_COMBINE_SHARED : 0u) |
                     (c.shared_y && c.shared_gate ? MOE_COMBINE_SHARED_GATED : 0u);
    CombinePush push{c.y, c.pair_row, c.weights, c.dst, c.x, c.shared_gate, c.shared_y, c.d, c.top_k, flags};
    cb.dispatch_groups(ctx.pipeline("combine", {MOE_COMBINE_THREADS}), &push, sizeof(push), c.tokens);
}

}  // namespace moevk::moe
