// One MoE layer on the GPU: router -> top-k -> permute -> expert FFN -> combine, recorded into
// one command buffer with a barrier only where a dispatch reads what an earlier one wrote.
// Nothing goes back to the host in between: the grouped GEMM is sized by an indirect dispatch
// that the permutation writes.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "moe/device_weights.h"

namespace moevk::moe {

enum class MoeStage { Router, Topk, Permute, ExpertFfn, Combine };
constexpr uint32_t kMoeStageCount = 5;
const char* stage_name(MoeStage stage);

struct LayerOptions {
    // Up to this many tokens the expert FFN runs as matrix-vector products per (token, k) pair
    // instead of the permuted grouped GEMM. Decode (one token) is where this pays. More would pay
    // for short prompts too (a 4-token mixtral-mid prompt ran 3.6x faster on lavapipe with 8), but
    // a paged step runs the matvec path in one group of resident experts, which T > 1 tokens can
    // overflow at small budgets, and the kernel choice must not depend on the budget (logits are
    // bit-identical at every budget): that needs the matvec path split into groups first.
    uint32_t matvec_max_tokens = 1;
};

// Scratch buffers sized for max_tokens, kept between calls.
struct MoeWorkspace {
    gpu::Buffer logits;    // [T][E] f32
    gpu::Buffer ids;       // [T][K] u32
    gpu::Buffer weights;   // [T][K] f32
    gpu::Buffer counts;    // [E] u32
    gpu::Buffer kept;      // [E] u32
    gpu::Buffer offsets;   // [E] u32
    gpu::Buffer tiles;     // [max tiles][3] u32
    gpu::Buffer meta;      // [MOE_META_WORDS] u32: indirect dispatch args, rows, dropped
    gpu::Buffer row_pair;  // [T*K] u32
    gpu::Buffer pair_row;  // [T*K] u32
    gpu::Buffer h;         // [T*K][ff] f32
    gpu::Buffer y;         // [T*K][d] f32
    gpu::Buffer shared_h;  // [T][ff_shared] f32
    gpu::Buffer shared_y;  // [T][d] f32
    gpu::Buffer shared_tiles;  // [ceil(T/tile)][3]: (0, first row, tile rows), static
    gpu::Buffer identity;      // [T]: row r holds token r, static
};

class MoeLayer {
public:
    // The workspace serves any layer of this config: a model's layers share one MoeLayer and
    // pass their weights to record().
    MoeLayer(gpu::Context& ctx, const MoeConfig& config, uint32_t max_tokens, LayerOptions options = {});
    // Binds `weights` as the default for the calls without a weights argument.
    MoeLayer(gpu::Context& ctx, const DeviceMoeWeights& weights, uint32_t max_tokens, LayerOptions options = {});

    // Records the layer for `tokens` tokens (1..max_tokens): reads x[T][d], writes out[T][d], both
    // f32. With `timestamps` (at least kMoeStageCount + 1 queries, reset by the caller) it writes
    // query 0 before the router and query s+1 after stage s. `table` replaces the weights' expert
    // table (an expert cache's, when the routed experts are paged); 0 keeps theirs.
    void record(gpu::CommandBuffer& cb, const DeviceMoeWeights& weights, VkDeviceAddress x, VkDeviceAddress out,
                uint32_t tokens, gpu::TimestampPool* timestamps = nullptr, VkDeviceAddress table = 0);
    void record(gpu::CommandBuffer& cb, VkDeviceAddress x, VkDeviceAddress out, uint32_t tokens,
                gpu::TimestampPool* timestamps = nullptr) {
        record(cb, bound_weights(), x, out, tokens, timestamps);
    }
    bool uses_matvec(uint32_t tokens) const;

    // The same layer in parts, for a scheduler that reads the routing back before the expert FFN
    // (expert paging). The parts record the same dispatches as record(), so the results are the
    // same bit for bit:
    //   record_routing: router, top-k and, on the grouped-GEMM path, the permutation, each
    //     followed by a barrier; ids, tiles and meta in the workspace are then final.
    //   record_experts_matvec / record_experts_tiles: the expert FFN. The tiles variant runs the
    //     grouped GEMM over `n_tiles` row tiles at `tiles` (a subset of the permutation's tile
    //     list), writing only those rows of y, so a layer may run in groups of experts. The
    //     shared expert goes with `shared` (once per layer).
    //   record_output: combine into out; the caller places the barrier before it.
    void record_routing(gpu::CommandBuffer& cb, const DeviceMoeWeights& weights, VkDeviceAddress x,
                        uint32_t tokens);
    void record_experts_matvec(gpu::CommandBuffer& cb, const DeviceMoeWeights& weights, VkDeviceAddress table,
                               VkDeviceAddress x, uint32_t tokens);
    void record_experts_tiles(gpu::CommandBuffer& cb, const DeviceMoeWeights& weights, VkDeviceAddress table,
                              VkDeviceAddress x, uint32_t tokens, VkDeviceAddress tiles, uint32_t n_tiles,
                              bool shared);
    void record_output(gpu::CommandBuffer& cb, const DeviceMoeWeights& weights, VkDeviceAddress x,
                       VkDeviceAddress out, uint32_t tokens);

    // Uploads x, runs the layer, waits and returns out: for tests and tools.
    std::vector<float> forward(const std::vector<float>& x, uint32_t tokens);
    // What the last run selected: expert ids [T][K] and their weights.
    std::vector<uint32_t> selected_ids(uint32_t tokens);
    std::vector<float> selected_weights(uint32_t tokens);
    // Pairs the capacity limit dropped in the last grouped-GEMM run (0 on the matvec path).
    uint32_t dropped_pairs();

    const MoeWorkspace& workspace() const { return ws_; }
    const MoeConfig& config() const { return config_; }
    uint32_t max_tokens() const { return max_tokens_; }

private:
    void check_tokens(uint32_t tokens) const;
    void check_weights(const DeviceMoeWeights& weights) const;
    // The expert FFN's dispatches: per (token, k) pair, or the grouped GEMM over the permutation's
    // tile list (indirect, tiles = 0) or over `n_tiles` given tiles.
    void record_matvec_passes(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress table,
                              VkDeviceAddress x, uint32_t tokens, bool shared);
    void record_gemm_passes(gpu::CommandBuffer& cb, const DeviceMoeWeights& w, VkDeviceAddress table,
                            VkDeviceAddress x, uint32_t tokens, VkDeviceAddress tiles, uint32_t n_tiles,
                            bool shared);
    const DeviceMoeWeights& bound_weights() const;

    gpu::Context& ctx_;
    MoeConfig config_;
    const DeviceMoeWeights* weights_ = nullptr;
    uint32_t max_tokens_;
    LayerOptions options_;
    MoeWorkspace ws_;
    gpu::Buffer io_x_;
    gpu::Buffer io_out_;
    std::unique_ptr<gpu::CommandBuffer> commands_;
    bool last_run_matvec_ = false;
};

}  // namespace moevk::moe
