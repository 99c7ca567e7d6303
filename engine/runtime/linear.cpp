#include "runtime/linear.h"

#include <string>
#include <vector>

#include "gpu/error.h"
#include "moe/stages.h"
#include "moe_config.h"

namespace moevk::runtime {
namespace {

[[noreturn]] void invalid(const std::string& what) {
    throw Error(ErrorCode::InvalidArgument, "linear: " + what);
}

// The matvec kernel puts tokens in the x dimension of its grid.
constexpr uint32_t kMaxMatvecTokens = 65535;

}  // namespace

LinearWeight::LinearWeight(gpu::Context& ctx, quant::WeightFormat format, VkDeviceAddress matrix,
                           uint32_t n_in, uint32_t n_out)
    : format_(format), matrix_(matrix), n_in_(n_in), n_out_(n_out) {
    if (matrix == 0) invalid("matrix is a null device address");
    if (matrix % 4 != 0)
        invalid("matrix address " + std::to_string(matrix) +
                " is not 4-byte aligned (kernels read 32-bit words)");
    if (n_in == 0 || n_out == 0)
        invalid("n_in and n_out must be positive, got " + std::to_string(n_in) + " x " +
                std::to_string(n_out));
    quant::row_bytes(format, n_in);  // throws when n_in is not a whole number of blocks
    uint64_t n_gemm_col_groups = moe::gemm_col_groups(n_out);
    if (n_gemm_col_groups > 65535)
        invalid("n_out " + std::to_string(n_out) + " needs more than 65535 GEMM column tiles");
    // Entries 0 and 1 (gate, up) are never read by the down-projection kernels.
    std::vector<uint64_t> table = {0, 0, matrix};
    table_ = ctx.allocate(table.size() * sizeof(uint64_t), gpu::MemoryKind::Device,
                          "linear weight table");
    gpu::upload(ctx, table_, table);
}

LinearWorkspace::LinearWorkspace(gpu::Context& ctx, uint32_t max_tokens) : max_tokens_(max_tokens) {
    if (max_tokens == 0) invalid("max_tokens must be positive, got 0");
    uint32_t n_tiles = (max_tokens + MOE_GEMM_TILE_ROWS - 1) / MOE_GEMM_TILE_ROWS;
    if (n_tiles > 65535)
        invalid("max_tokens " + std::to_string(max_tokens) +
                " needs more than 65535 GEMM row tiles");
    std::vector<uint32_t> tiles;
    tiles.reserve(size_t(n_tiles) * 3);
    for (uint32_t j = 0; j < n_tiles; ++j)
        tiles.insert(tiles.end(), {0u, j * MOE_GEMM_TILE_ROWS, MOE_GEMM_TILE_ROWS});
    tiles_ =
        ctx.allocate(tiles.size() * sizeof(uint32_t), gpu::MemoryKind::Device, "linear GEMM tiles");
    gpu::upload(ctx, tiles_, tiles);
}

void record_linear(gpu::CommandBuffer& cb, gpu::Context& ctx, const LinearWeight& w,
                   const LinearWorkspace& ws, VkDeviceAddress x, VkDeviceAddress y, uint32_t tokens,
                   uint32_t matvec_max_tokens, VkDeviceAddress bias) {
    // One expert (table entry 0): the epilogue's bias[expert][row] is bias[row].
    const moe::ExpertEpilogue epilogue{bias, 0, moe::Activation::SwiGlu};
    if (tokens == 0 || tokens > ws.max_tokens())
        invalid("tokens must be in 1.." + std::to_string(ws.max_tokens()) +
                " (the workspace's max_tokens), got " + std::to_string(tokens));
    if (x == 0 || y == 0) invalid("x and y must be device addresses, got null");
    if (x % 4 != 0 || y % 4 != 0) invalid("x and y must be 4-byte aligned");
    if (uint64_t(tokens) * w.n_in() > 0xFFFFFFFFull || uint64_t(tokens) * w.n_out() > 0xFFFFFFFFull)
        invalid(std::to_string(tokens) + " tokens of " + std::to_string(w.n_in()) + " -> " +
                std::to_string(w.n_out()) + " pass the 2^32 elements a kernel can index");
    if (linear_uses_matvec(tokens, matvec_max_tokens) && tokens <= kMaxMatvecTokens) {
        // One "pair" per token, every one on table entry 0 (no ids): y[t] = W . x[t].
        moe::ExpertMatvec m{w.format(), false, x, y, 0, w.table(), w.n_in(), w.n_out(), tokens, 1, {}, epilogue};
        moe::record_expert_matvec(cb, ctx, m);
    } else {
        // Row r of x is token r (the down pass reads x rows directly); the row limit cuts the
        // last tile at `tokens`.
        moe::ExpertGemm g{w.format(), false,    x,         y, 0,     ws.tiles(),
                          w.table(),  w.n_in(), w.n_out(), 1, tokens, epilogue};
        uint32_t n_tiles = (tokens + MOE_GEMM_TILE_ROWS - 1) / MOE_GEMM_TILE_ROWS;
        moe::record_expert_gemm(cb, ctx, g, n_tiles);
    }
}

}  // namespace moevk::runtime
