#include "moe/weights.h"

#include <cmath>
#include <random>

namespace moevk::moe {
namespace {

std::vector<float> uniform(std::mt19937_64& rng, size_t n, float bound) {
    std::uniform_real_distribution<float> dist(-bound, bound);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

ExpertMatrices random_expert(std::mt19937_64& rng, const MoeConfig& c, uint32_t d_ff) {
    // Uniform(-b, b) has variance b^2/3: b = sqrt(3/fan_in) keeps outputs near unit scale.
    float b_in = std::sqrt(3.0f / c.d_model);
    float b_out = std::sqrt(3.0f / d_ff);
    ExpertMatrices m;
    m.gate = quant::encode_matrix(c.format, uniform(rng, size_t(d_ff) * c.d_model, b_in), d_ff, c.d_model);
    m.up = quant::encode_matrix(c.format, uniform(rng, size_t(d_ff) * c.d_model, b_in), d_ff, c.d_model);
    m.down = quant::encode_matrix(c.format, uniform(rng, size_t(c.d_model) * d_ff, b_out), c.d_model, d_ff);
    return m;
}

}  // namespace

MoeWeights random_weights(const MoeConfig& c, uint64_t seed) {
    validate(c);
    std::mt19937_64 rng(seed);
    MoeWeights w;
    w.config = c;
    // Router logits spread over a few units, as in trained routers, so top-k decisions are
    // rarely near-ties.
    w.router = uniform(rng, size_t(c.n_experts) * c.d_model, 2.0f * std::sqrt(3.0f / c.d_model));
    if (c.selection_bias) w.selection_bias = uniform(rng, c.n_experts, 0.1f);
    for (uint32_t e = 0; e < c.n_experts; ++e) w.experts.push_back(random_expert(rng, c, c.d_ff));
    if (c.d_ff_shared) {
        w.shared = random_expert(rng, c, c.d_ff_shared);
        if (c.shared_gated) w.shared_gate = uniform(rng, c.d_model, std::sqrt(3.0f / c.d_model));
    }
    // Drawn after everything else, so that layers without them keep their weights.
    if (c.router_bias) w.router_bias = uniform(rng, c.n_experts, 0.5f);
    if (c.expert_biases) {
        w.gate_bias = uniform(rng, size_t(c.n_experts) * c.d_ff, 0.5f);
        w.up_bias = uniform(rng, size_t(c.n_experts) * c.d_ff, 0.5f);
        w.down_bias = uniform(rng, size_t(c.n_experts) * c.d_model, 0.5f);
    }
    return w;
}

MoeWeightsView view(const MoeWeights& w) {
    auto ev = [](const ExpertMatrices& m) { return ExpertView{m.gate, m.up, m.down}; };
    ExpertFormats f{w.config.format, w.config.format};
    MoeWeightsView v{w.config, f, f, w.router, w.selection_bias, {}, ev(w.shared), w.shared_gate};
    for (const ExpertMatrices& m : w.experts) v.experts.push_back(ev(m));
    v.router_bias = w.router_bias;
    v.gate_bias = w.gate_bias;
    v.up_bias = w.up_bias;
    v.down_bias = w.down_bias;
    return v;
}

void attach_biases(DenseExpert& dense, const MoeWeightsView& w, uint32_t e) {
    const MoeConfig& c = w.config;
    dense.activation = c.activation;
    if (w.gate_bias.empty()) return;
    auto slice = [](std::span<const float> all, size_t n, uint32_t e) {
        auto s = all.subspan(size_t(e) * n, n);
        return std::vector<float>(s.begin(), s.end());
    };
    dense.gate_bias = slice(w.gate_bias, c.d_ff, e);
    dense.up_bias = slice(w.up_bias, c.d_ff, e);
    dense.down_bias = slice(w.down_bias, c.d_model, e);
}

DenseExpert dequantize(const ExpertMatrices& m, quant::WeightFormat format, uint32_t d_model, uint32_t d_ff) {
    DenseExpert e;
    e.d_ff = d_ff;
    e.gate = quant::decode_matrix(format, m.gate, d_ff, d_model);
    e.up = quant::decode_matrix(format, m.up, d_ff, d_model);
    e.down = quant::decode_matrix(format, m.down, d_model, d_ff);
    return e;
}

}  // namespace moevk::moe
