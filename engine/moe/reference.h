// CPU reference of every MoE stage and of the whole layer, accumulating in double. Tests compare
// the GPU kernels against it; each stage takes its inputs explicitly so a stage can be checked on
// the GPU's own upstream results.
#pragma once

#include <cstdint>
#include <vector>

#include "moe/config.h"
#include "moe/weights.h"

namespace moevk::moe::reference {

// logits[t][e] = x[t] . router[e] (+ router_bias[e] where the layer has one)
std::vector<double> router_logits(const std::vector<float>& x, uint32_t tokens, const MoeWeights& w);

struct Routing {
    std::vector<uint32_t> ids;    // [T][K], best first
    std::vector<double> weights;  // [T][K]
    // Per token, the gap between the K-th and (K+1)-th selection score (infinity when K == E):
    // where it is tiny, a float32 kernel may legitimately pick the other expert.
    std::vector<double> margin;
};
// Gating, selection (ties to the lower index), renormalisation and scale, as topk.comp.
Routing topk(const std::vector<double>& logits, uint32_t tokens, const MoeConfig& c,
             const std::vector<float>& selection_bias);
// The weights a given selection gets (for checking a GPU choice made at a near-tie).
std::vector<double> weights_for(const std::vector<double>& logits, uint32_t tokens, const MoeConfig& c,
                                const std::vector<uint32_t>& ids);

struct Permutation {
    std::vector<uint32_t> counts;    // [E] pairs routed to each expert
    std::vector<uint32_t> kept;      // [E] after the capacity cap
    std::vector<uint32_t> offsets;   // [E] first row of each expert
    std::vector<uint32_t> row_pair;  // [rows] pair held by each row
    std::vector<uint32_t> pair_row;  // [pairs] row of each pair, kDroppedRow when dropped
    uint32_t dropped = 0;
};
constexpr uint32_t kDroppedRow = 0xFFFFFFFFu;
// Stable counting sort of pairs by expert: rows of an expert are in pair order.
Permutation permute(const std::vector<uint32_t>& ids, uint32_t n_experts, uint32_t capacity);

// The expert activation h = act(g, u) (moe::Activation).
double activation(Activation a, double gate, double up);

// h = act(gate x + gate_bias, up x + up_bias);  y = down h + down_bias (biases where the expert
// has them). h has d_ff values, y d_model.
void expert_ffn(const float* x, const DenseExpert& e, uint32_t d_model, std::vector<double>& h,
                std::vector<double>& y);

// out[t] = sum_k w[t][k] * y[row(t,k)] (dropped pairs skipped) + gate_t * shared_y[t], with
// gate_t = sigmoid(x[t] . shared_gate) when shared_gate is non-empty, else 1. Empty shared_y
// means no shared expert.
std::vector<double> combine(const std::vector<double>& y_rows, const std::vector<uint32_t>& pair_row,
                            const std::vector<double>& weights, uint32_t tokens, uint32_t top_k,
                            uint32_t d_model, const std::vector<float>& x,
                            const std::vector<double>& shared_y, const std::vector<float>& shared_gate);

struct LayerResult {
    Routing routing;
    Permutation permutation;
    std::vector<double> out;  // [T][d]
};
// The whole layer. `forced_ids`, when given, replaces the selection (weights follow from it):
// tests use it to follow the GPU through a near-tie.
LayerResult layer(const std::vector<float>& x, uint32_t tokens, const MoeWeights& w,
                  const std::vector<DenseExpert>& dense, const DenseExpert* dense_shared,
                  const std::vector<uint32_t>* forced_ids = nullptr);

}  // namespace moevk::moe::reference
