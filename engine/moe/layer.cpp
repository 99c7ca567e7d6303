#include "moe/layer.h"

#include <string>

#include "gpu/error.h"
#include "moe/stages.h"
#include "moe_config.h"

namespace moevk::moe {

const char* stage_name(MoeStage stage) {
    switch (stage) {
        case MoeStage::Router: return "router";
        case MoeStage::Topk: return "topk";
        case MoeStage::Permute: return "permute";
        case MoeStage::ExpertFfn: return "expert_ffn";
        case MoeStage::Combine: return "combine";
    }
    return "?";
}

MoeLayer::MoeLayer(gpu::Context& ctx, const DeviceMoeWeights& weights, uint32_t max_tokens, LayerOptions options)
    : MoeLayer(ctx, weights.config(), max_tokens, options) {
    weights_ = &weights;
}

const DeviceMoeWeights& MoeLayer::bound_weights() const {
    if (!weights_) throw Error(ErrorCode::InvalidArgument, "MoE layer: no weights bound; pass them to record()");
    return *weights_;
}

MoeLayer::MoeLayer(gpu::Context& ctx, const MoeConfig& config, uint32_t max_tokens, LayerOptions options)
    : ctx_(ctx), config_(config), max_tokens_(max_tokens), options_(options) {
    validate(config);
    const MoeConfig& c = config_;
    if (max_tokens == 0) throw Error(ErrorCode::InvalidArgument, "MoE layer: max_tokens must be positive, got 0");
    uint64_t pairs = uint64_t(max_tokens) * c.top_k;
    if (max_gemm_tiles(static_cast<uint32_t>(std::min<uint64_t>(pairs, 0xFFFFFFFFu)), c.n_experts) > 65535)
        throw Error(ErrorCode::InvalidArgument,
                    "MoE layer: max_tokens " + std::to_string(max_tokens) + " with top_k " +
                        std::to_string(c.top_k) + " needs more than 65535 GEMM row tiles");

    auto alloc = [&](uint64_t words, const char* name) {
        return ctx.allocate(words * 4, gpu::MemoryKind::Device, std::string("MoE workspace ") + name);
    };
    uint32_t p = static_cast<uint32_t>(pairs);
    ws_.logits = alloc(uint64_t(max_tokens) * c.n_experts, "logits");
    ws_.ids = alloc(p, "ids");
    ws_.weights = alloc(p, "weights");
    ws_.counts = alloc(c.n_experts, "counts");
    ws_.kept = alloc(c.n_experts, "kept");
    ws_.offsets = alloc(c.n_experts, "offsets");
    ws_.tiles = alloc(uint64_t(max_gemm_tiles(p, c.n_experts)) * 3, "tiles");
    ws_.meta = alloc(MOE_META_WORDS, "meta");
    ws_.row_pair = alloc(p, "row_pair");
    ws_.pair_row = alloc(p, "pair_row");
    ws_.h = alloc(uint64_t(p) * c.d_ff, "h");
    ws_.y = alloc(uint64_t(p) * c.d_model, "y");
    if (c.d_ff_shared) {
        ws_.shared_h = alloc(uint64_t(max_tokens) * c.d_ff_shared, "shared_h");
        ws_.shared_y = alloc(uint64_t(max_tokens) * c.d_model, "shared_y");
        uint32_t n_tiles = (max_tokens + MOE_GEMM_TILE_ROWS - 1) / MOE_GEMM_TILE_ROWS;
        std::vector<uint32_t> tiles;
        for (uint32_t j = 0; j < n_tiles; ++j) tiles.insert(tiles.end(), {0u, j * MOE_GEMM_TILE_ROWS, MOE_GEMM_TILE_ROWS});
        ws_.shared_tiles = alloc(tiles.size(), "shared_tiles");
        gpu::upload(ctx, ws_.shared_tiles, tiles);
        std::vector<uint32_t> identity(max_tokens);
        for (uint32_t t = 0; t < max_tokens; ++t) identity[t] = t;
        ws_.identity = alloc(max_tokens, "identity");
        gpu::upload(ctx, ws_.identity, identity);
    }
}

bool MoeLayer::uses_matvec(uint32_t tokens) const {
    // Capacity limits act in the permutation, which the matvec path skips; with one token no
    // expert can exceed its capacity of at least one row, so decode stays exact.
    return tokens <= options_.matvec_max_tokens && (config().capacity_factor <= 0 || tokens == 1);
}

void MoeLayer::check_tokens(uint32_t tokens) const {
    if (tokens == 0 || tokens > max_tokens_)
        throw Error(ErrorCode::InvalidArgument, "MoE layer: tokens must be in 1.." + std::to_string(max_tokens_) +
                                                    ", got " + std::to_string(tokens));
}

void MoeLayer::check_weights(const DeviceMoeWeights& w) const {
    // The workspace fixes the shapes; the routing rule comes with the weights.
    const MoeConfig& shape = config();
    const MoeConfig& c = w.config();
    if (c.d_model != shape.d_model || c.d_ff != shape.d_ff || c.n_experts != shape.n_experts ||
        c.top_k != shape.top_k || c.d_ff_shared != shape.d_ff_shared)
        throw Error(ErrorCode::InvalidArgument, "MoE layer built for " + describe(shape) +
                                                    " was given weights of " + describe(c));
}

static VkDeviceAddress table_or_weights(const DeviceMoeWeights& w, VkDeviceAddress table) {
    if (table) return table;
    if (!w.expert_table())
        throw Error(ErrorCode::InvalidArgument,
                    "MoE layer: the routed experts are not on the device (they are paged); pass the expert "
                    "cache's table");
    return w.expert_table();
}

void MoeLayer::record_matvec_passes(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress table,
                                    VkDeviceAddress x, uint32_t tokens, bool shared) {
    const MoeConfig& c = w.config();
    const ExpertFormats& f = w.formats();
    const ExpertFormats& sf = w.shared_formats();
    shared = shared && c.d_ff_shared != 0;
    uint32_t pairs = tokens * c.top_k;
    const ExpertEpilogue shared_epilogue{0, 0, c.activation};
    ExpertMatvec up{f.gate_up, true, x, ws_.h.address(), ws_.ids.address(), table, c.d_model, c.d_ff, pairs, c.top_k};
    up.epilogue = w.gate_up_epilogue();
    record_expert_matvec(cb, ctx_, up);
    if (shared)
        record_expert_matvec(cb, ctx_, {sf.gate_up, true, x, ws_.shared_h.address(), 0, w.shared_table(),
                                        c.d_model, c.d_ff_shared, tokens, 1, {}, shared_epilogue});
    cb.barrier();
    ExpertMatvec down{f.down, false, ws_.h.address(), ws_.y.address(), ws_.ids.address(), table,
                      c.d_ff, c.d_model, pairs, c.top_k};
    down.epilogue = w.down_epilogue();
    record_expert_matvec(cb, ctx_, down);
    if (shared)
        record_expert_matvec(cb, ctx_, {sf.down, false, ws_.shared_h.address(), ws_.shared_y.address(), 0,
                                        w.shared_table(), c.d_ff_shared, c.d_model, tokens, 1, {}, shared_epilogue});
}

void MoeLayer::record_gemm_passes(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress table,
                                  VkDeviceAddress x, uint32_t tokens, VkDeviceAddress tiles, uint32_t n_tiles,
                                  bool shared) {
    const MoeConfig& c = w.config();
    const ExpertFormats& f = w.formats();
    const ExpertFormats& sf = w.shared_formats();
    shared = shared && c.d_ff_shared != 0;
    // The permutation's own tile list with its indirect dispatch, or the caller's list.
    auto gemm = [&](const ExpertGemm& g, uint32_t args_word) {
        if (tiles)
            record_expert_gemm(cb, ctx_, g, n_tiles);
        else
            record_expert_gemm_indirect(cb, ctx_, g, ws_.meta, args_word * 4);
    };
    VkDeviceAddress tile_list = tiles ? tiles : ws_.tiles.address();
    uint32_t shared_tiles = (tokens + MOE_GEMM_TILE_ROWS - 1) / MOE_GEMM_TILE_ROWS;
    const ExpertEpilogue shared_epilogue{0, 0, c.activation};
    ExpertGemm up{f.gate_up, true, x, ws_.h.address(), ws_.row_pair.address(), tile_list, table,
                  c.d_model, c.d_ff, c.top_k};
    up.epilogue = w.gate_up_epilogue();
    gemm(up, MOE_META_GATE_UP_ARGS);
    if (shared)
        record_expert_gemm(cb, ctx_,
                           {sf.gate_up, true, x, ws_.shared_h.address(), ws_.identity.address(),
                            ws_.shared_tiles.address(), w.shared_table(), c.d_model, c.d_ff_shared, 1, tokens,
                            shared_epilogue},
                           shared_tiles);
    cb.barrier();
    ExpertGemm down{f.down, false, ws_.h.address(), ws_.y.address(), 0, tile_list, table, c.d_ff, c.d_model, c.top_k};
    down.epilogue = w.down_epilogue();
    gemm(down, MOE_META_DOWN_ARGS);
    if (shared)
        record_expert_gemm(cb, ctx_,
                           {sf.down, false, ws_.shared_h.address(), ws_.shared_y.address(), 0,
                            ws_.shared_tiles.address(), w.shared_table(), c.d_ff_shared, c.d_model, 1, tokens,
                            shared_epilogue},
                           shared_tiles);
}

void MoeLayer::record(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress x, VkDeviceAddress out,
                      uint32_t tokens, gpu::TimestampPool* timestamps, VkDeviceAddress table) {
    check_tokens(tokens);
    check_weights(w);
    table = table_or_weights(w, table);
    const MoeConfig& c = w.config();
    uint32_t pairs = tokens * c.top_k;
    uint32_t stamp = 0;
    auto mark = [&] {
        if (timestamps) cb.timestamp(*timestamps, stamp++);
    };
    mark();

    record_router(cb, ctx_, x, w.router(), ws_.logits.address(), tokens, c.d_model, c.n_experts, w.router_bias());
    cb.barrier();
    mark();
    record_topk(cb, ctx_, ws_.logits.address(), w.selection_bias(), ws_.ids.address(), ws_.weights.address(),
                tokens, c);
    cb.barrier();
    mark();

    bool matvec = uses_matvec(tokens);
    last_run_matvec_ = matvec;
    if (matvec) {
        mark();  // no permutation on this path
        record_matvec_passes(cb, w, table, x, tokens, true);
    } else {
        PermuteBuffers pb{ws_.ids.address(),   ws_.counts.address(), ws_.kept.address(),
                          ws_.offsets.address(), ws_.tiles.address(), ws_.meta.address(),
                          ws_.row_pair.address(), ws_.pair_row.address()};
        record_permute(cb, ctx_, pb, pairs, c.n_experts, capacity_rows(c, tokens), gemm_col_groups(c.d_ff),
                       gemm_col_groups(c.d_model));
        cb.barrier();
        mark();
        record_gemm_passes(cb, w, table, x, tokens, 0, 0, true);
    }
    cb.barrier();
    mark();
    record_output(cb, w, x, out, tokens);
    mark();
}

void MoeLayer::record_routing(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress x,
                              uint32_t tokens) {
    check_tokens(tokens);
    check_weights(w);
    const MoeConfig& c = w.config();
    record_router(cb, ctx_, x, w.router(), ws_.logits.address(), tokens, c.d_model, c.n_experts, w.router_bias());
    cb.barrier();
    record_topk(cb, ctx_, ws_.logits.address(), w.selection_bias(), ws_.ids.address(), ws_.weights.address(),
                tokens, c);
    cb.barrier();
    last_run_matvec_ = uses_matvec(tokens);
    if (!last_run_matvec_) {
        PermuteBuffers pb{ws_.ids.address(),   ws_.counts.address(), ws_.kept.address(),
                          ws_.offsets.address(), ws_.tiles.address(), ws_.meta.address(),
                          ws_.row_pair.address(), ws_.pair_row.address()};
        record_permute(cb, ctx_, pb, tokens * c.top_k, c.n_experts, capacity_rows(c, tokens),
                       gemm_col_groups(c.d_ff), gemm_col_groups(c.d_model));
        cb.barrier();
    }
}

void MoeLayer::record_experts_matvec(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress table,
                                     VkDeviceAddress x, uint32_t tokens) {
    check_tokens(tokens);
    check_weights(w);
    if (!uses_matvec(tokens))
        throw Error(ErrorCode::InvalidArgument, "MoE layer: " + std::to_string(tokens) +
                                                    " tokens run on the grouped GEMM, not the matvec path");
    record_matvec_passes(cb, w, table_or_weights(w, table), x, tokens, true);
}

void MoeLayer::record_experts_tiles(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress table,
                                    VkDeviceAddress x, uint32_t tokens, VkDeviceAddress tiles, uint32_t n_tiles,
                                    bool shared) {
    check_tokens(tokens);
    check_weights(w);
    if (uses_matvec(tokens) || !tiles)
        throw Error(ErrorCode::InvalidArgument, "MoE layer: a tile list for " + std::to_string(tokens) +
                                                    " tokens, which do not run on the grouped GEMM");
    record_gemm_passes(cb, w, table_or_weights(w, table), x, tokens, tiles, n_tiles, shared);
}

void MoeLayer::record_output(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress x,
                             VkDeviceAddress out, uint32_t tokens) {
    const MoeConfig& c = w.config();
    bool shared = c.d_ff_shared != 0;
    bool matvec = uses_matvec(tokens);
    Combine combine{ws_.y.address(),
                    matvec ? 0 : ws_.pair_row.address(),
                    ws_.weights.address(),
                    out,
                    x,
                    shared ? w.shared_gate() : 0,
                    shared ? ws_.shared_y.address() : 0,
                    tokens,
                    c.d_model,
                    c.top_k};
    record_combine(cb, ctx_, combine);
}

std::vector<float> MoeLayer::forward(const std::vector<float>& x, uint32_t tokens) {
    check_tokens(tokens);
    const MoeConfig& c = config();
    if (x.size() != size_t(tokens) * c.d_model)
        throw Error(ErrorCode::InvalidArgument, "MoE layer: input has " + std::to_string(x.size()) +
                                                    " values, expected tokens * d_model = " +
                                                    std::to_string(size_t(tokens) * c.d_model));
    if (!io_x_) {
        io_x_ = ctx_.allocate(uint64_t(max_tokens_) * c.d_model * 4, gpu::MemoryKind::Device, "MoE layer input");
        io_out_ = ctx_.allocate(uint64_t(max_tokens_) * c.d_model * 4, gpu::MemoryKind::Device, "MoE layer output");
        commands_ = std::make_unique<gpu::CommandBuffer>(ctx_, ctx_.compute_queue());
    }
    gpu::upload(ctx_, io_x_, x);
    commands_->begin();
    record(*commands_, io_x_.address(), io_out_.address(), tokens);
    commands_->submit_and_wait();
    return gpu::download<float>(ctx_, io_out_, size_t(tokens) * c.d_model);
}

std::vector<uint32_t> MoeLayer::selected_ids(uint32_t tokens) {
    check_tokens(tokens);
    return gpu::download<uint32_t>(ctx_, ws_.ids, size_t(tokens) * config().top_k);
}

std::vector<float> MoeLayer::selected_weights(uint32_t tokens) {
    check_tokens(tokens);
    return gpu::download<float>(ctx_, ws_.weights, size_t(tokens) * config().top_k);
}

uint32_t MoeLayer::dropped_pairs() {
    if (last_run_matvec_) return 0;
    return gpu::download<uint32_t>(ctx_, ws_.meta, MOE_META_WORDS)[MOE_META_DROPPED];
}

}  // namespace moevk::moe
