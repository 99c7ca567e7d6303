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
    return w;
}

MoeWeightsView view(const MoeWeights& w) {
    auto ev = [](const ExpertMatrices& m) { return ExpertView{m.gate, m.up, m.down}; };
    ExpertFormats f{w.config.format, w.config.format};
    MoeWeightsView v{w.config, f, f, w.router, w.selection_bias, {}, ev(w.shared), w.shared_gate};
    for (const ExpertMatrices& m : w.experts) v.experts.push_back(ev(m));
    return v;
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
