// Dense linear layers, y[T][n_out] = x[T][n_in] . W^T with W [n_out][n_in] in any weight format:
// the attention projections and the vocabulary projection.
//
// They reuse the expert kernels rather than having kernels of their own: a dense layer is the
// down projection of a one-expert FFN (no gate, no activation), and the expert kernels already
// read every weight format, split rows past 65535 workgroups and are tuned and tested. So a
// LinearWeight is a one-expert weight table whose down entry is W; few tokens run as
// matrix-vector products (expert_matvec_down_<fmt>), more as the tiled GEMM
// (expert_gemm_down_<fmt>) over a static list of row tiles, as the MoE layer's shared expert does.
#pragma once

#include <cstdint>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "gpu/memory.h"
#include "quant/formats.h"

namespace moevk::runtime {

// W [n_out][n_in] in `format`, at `matrix` (4-byte aligned; may point into a larger buffer such
// as an uploaded model file section, which must outlive this object). Owns the weight table:
// three device addresses, entry 2 (the expert kernels' down matrix) is W.
class LinearWeight {
  public:
    LinearWeight(gpu::Context& ctx, quant::WeightFormat format, VkDeviceAddress matrix,
                 uint32_t n_in, uint32_t n_out);

    quant::WeightFormat format() const { return format_; }
    VkDeviceAddress matrix() const { return matrix_; }
    VkDeviceAddress table() const { return table_.address(); }
    uint32_t n_in() const { return n_in_; }
    uint32_t n_out() const { return n_out_; }

  private:
    quant::WeightFormat format_;
    VkDeviceAddress matrix_;
    uint32_t n_in_;
    uint32_t n_out_;
    gpu::Buffer table_;
};

// The static GEMM row tiles for up to max_tokens rows: tile j is (expert 0, first row
// j * MOE_GEMM_TILE_ROWS, MOE_GEMM_TILE_ROWS rows), the last one cut at `tokens` by the kernel's
// row limit. Depends on nothing but max_tokens, so every linear layer of a model can share one.
class LinearWorkspace {
  public:
    LinearWorkspace(gpu::Context& ctx, uint32_t max_tokens);

    uint32_t max_tokens() const { return max_tokens_; }
    VkDeviceAddress tiles() const { return tiles_.address(); }

  private:
    uint32_t max_tokens_;
    gpu::Buffer tiles_;  // [ceil(max_tokens / MOE_GEMM_TILE_ROWS)][3] u32
};

// Up to this many tokens a linear layer runs as matrix-vector products: a few tokens then cost what
// as many generated tokens cost (on a GPU the other tokens' reads of a row come from L2; on lavapipe
// an 8-token step of mixtral-mid is within noise of the GEMM), and the matvec kernel spreads each
// row over a whole row group where the GEMM would leave most of a 32-row tile empty. llama.cpp's
// Vulkan backend draws its line at 8 columns as well.
constexpr uint32_t kLinearMatvecMaxTokens = 8;

inline bool linear_uses_matvec(uint32_t tokens,
                               uint32_t matvec_max_tokens = kLinearMatvecMaxTokens) {
    return tokens <= matvec_max_tokens;
}

// y[T][n_out] = x[T][n_in] . W^T (+ bias[n_out] f32 where bias is not 0, added in the kernel's
// epilogue), x and y f32 and not overlapping; tokens in 1..ws.max_tokens(). Records no barrier.
void record_linear(gpu::CommandBuffer& cb, gpu::Context& ctx, const LinearWeight& w,
                   const LinearWorkspace& ws, VkDeviceAddress x, VkDeviceAddress y, uint32_t tokens,
                   uint32_t matvec_max_tokens = kLinearMatvecMaxTokens, VkDeviceAddress bias = 0);

}  // namespace moevk::runtime
