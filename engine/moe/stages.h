// Recorders for the MoE stages, one function per kernel. Buffers are passed as device
// addresses; every function checks nothing about the data and records no barrier except
// inside record_permute (whose three steps depend on each other). The caller places the
// barriers between stages.
#pragma once

#include <algorithm>
#include <cstdint>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "moe/config.h"
#include "moe_config.h"

namespace moevk::moe {

using Address = VkDeviceAddress;

// logits[T][E] = x[T][d] . weight[E][d]^T (+ bias[E] when bias is not 0)
void record_router(gpu::CommandBuffer& cb, gpu::Context& ctx, Address x, Address weight, Address logits,
                   uint32_t tokens, uint32_t d, uint32_t n_experts, Address bias = 0);

// ids[T][K], weights[T][K] from logits[T][E]; bias may be 0 when the config has none.
void record_topk(gpu::CommandBuffer& cb, gpu::Context& ctx, Address logits, Address bias, Address ids,
                 Address weights, uint32_t tokens, const MoeConfig& config);

struct PermuteBuffers {
    Address ids;       // in: [pairs]
    Address counts;    // [E]
    Address kept;      // [E]
    Address offsets;   // [E]
    Address tiles;     // [max_gemm_tiles][3]
    Address meta;      // [MOE_META_WORDS]
    Address row_pair;  // [pairs]
    Address pair_row;  // [pairs]
};
void record_permute(gpu::CommandBuffer& cb, gpu::Context& ctx, const PermuteBuffers& b, uint32_t n_pairs,
                    uint32_t n_experts, uint32_t capacity, uint32_t gate_up_groups_x, uint32_t down_groups_x);

inline uint32_t gemm_col_groups(uint32_t d_out) {
    return (d_out + MOE_GEMM_TILE_COLS - 1) / MOE_GEMM_TILE_COLS;
}
// Row tiles the permutation of n_pairs pairs over E experts can need at most.
inline uint32_t max_gemm_tiles(uint32_t n_pairs, uint32_t n_experts) {
    return (n_pairs + MOE_GEMM_TILE_ROWS - 1) / MOE_GEMM_TILE_ROWS + n_experts;
}

// The most tokens one forward step can hold with top_k of n_experts: their row tiles must fit the
// 65535 workgroups of one dispatch dimension.
inline uint32_t max_step_tokens(uint32_t top_k, uint32_t n_experts) {
    if (n_experts >= 65535 || top_k == 0) return 0;
    return static_cast<uint32_t>(std::min<uint64_t>(uint64_t(65535 - n_experts) * MOE_GEMM_TILE_ROWS / top_k, 0xFFFFFFFFu));
}

// What the expert kernels add to their dot products: the expert's biases ([E][d_out] f32 arrays
// indexed by the expert of the row; 0 where the layer has none) and the activation.
struct ExpertEpilogue {
    Address bias0 = 0;  // gate_up: the gate bias; down: the down bias
    Address bias1 = 0;  // gate_up: the up bias
    Activation activation = Activation::SwiGlu;
};

// The grouped GEMM's shape on a device: the columns each thread owns (the pipeline's
// specialisation constant 1) and the workgroup size that follows (constant 0). The defaults are
// what the engine runs; tests set the others so that every shape is checked on any device.
struct GemmOptions {
    uint32_t columns_per_thread = 0;  // 2, 4 or 8; 0: 8 on CPU devices, 2 elsewhere
};
struct GemmGeometry {
    uint32_t threads;
    uint32_t columns_per_thread;
};
GemmGeometry gemm_geometry(const gpu::DeviceInfo& info, const GemmOptions& options = {});

struct ExpertGemm {
    quant::WeightFormat format;
    bool gate_up;          // gate/up pass (x -> h) or down pass (h -> y)
    Address x;             // gate_up: activations [T][d_in]; down: h [rows][d_in]
    Address dst;           // [rows][d_out]
    Address row_src;       // gate_up: pair of each row
    Address tiles;         // [n_tiles][3]
    Address table;         // expert weight table
    uint32_t d_in;
    uint32_t d_out;
    uint32_t pairs_per_token;
    uint32_t row_limit = 0xFFFFFFFFu;
    ExpertEpilogue epilogue = {};
    GemmOptions options = {};
};
// Tile count from the GPU: `args` holds the indirect dispatch written by permute_scan.
void record_expert_gemm_indirect(gpu::CommandBuffer& cb, gpu::Context& ctx, const ExpertGemm& g,
                                 const gpu::Buffer& args, VkDeviceSize args_offset);
void record_expert_gemm(gpu::CommandBuffer& cb, gpu::Context& ctx, const ExpertGemm& g, uint32_t n_tiles);

// How the matrix-vector kernel adds up the lanes of a row.
enum class MatvecReduction {
    Auto,      // Subgroup where the device has subgroup arithmetic in compute, else SharedMemory
    Subgroup,  // subgroupAdd (Error Unsupported on a device without subgroup arithmetic)
    SharedMemory,  // the variant that needs no subgroup feature
};

// The defaults are what the engine runs; tests set the others to reach every path.
struct MatvecOptions {
    MatvecReduction reduction = MatvecReduction::Auto;
    // Lanes per row, a power of two; 0: the subgroup size (Subgroup) or MOE_MATVEC_LANES. A
    // Subgroup pipeline whose lanes differ from the subgroup size reduces through shared memory.
    uint32_t lanes = 0;
    // Row-block workgroups in y before the grid continues in z.
    uint32_t max_row_groups = MOE_MATVEC_MAX_ROW_GROUPS;
};

// The matrix-vector kernel's shape on a device: the pipeline's specialisation constants and the
// dispatch both come from it.
struct MatvecGeometry {
    bool subgroup;            // the SUBGROUP variant
    uint32_t threads;         // workgroup size (specialisation constant 0)
    uint32_t lanes;           // lanes per row group (specialisation constant 1)
    uint32_t rows_per_group;  // threads / lanes * MOE_MATVEC_ROWS_PER_THREAD
};
MatvecGeometry matvec_geometry(const gpu::DeviceInfo& info, const MatvecOptions& options = {});

struct ExpertMatvec {
    quant::WeightFormat format;
    bool gate_up;
    Address x;        // gate_up: activations [T][d_in]; down: h [pairs][d_in]
    Address dst;      // [pairs][d_out]
    Address ids;      // [pairs]; 0: every pair uses table entry 0
    Address table;
    uint32_t d_in;
    uint32_t d_out;
    uint32_t n_pairs;
    uint32_t pairs_per_token;
    MatvecOptions options = {};
    ExpertEpilogue epilogue = {};
};
void record_expert_matvec(gpu::CommandBuffer& cb, gpu::Context& ctx, const ExpertMatvec& m);

struct Combine {
    Address y;            // [rows][d]
    Address pair_row;     // [T*K], 0: row = pair
    Address weights;      // [T*K]
    Address dst;          // [T][d]
    Address x;            // [T][d], for the shared gate
    Address shared_gate;  // [d] or 0 (ungated)
    Address shared_y;     // [T][d] or 0 (no shared expert)
    uint32_t tokens;
    uint32_t d;
    uint32_t top_k;
};
void record_combine(gpu::CommandBuffer& cb, gpu::Context& ctx, const Combine& c);

}  // namespace moevk::moe
