#include "runtime/rope_scaling.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace moevk::runtime {
namespace {

// The dimension at which a wavelength fits `rotations` times into the original context
// (ggml_rope_yarn_corr_dim).
float correction_dim(uint32_t n_rot, uint32_t original_context, float rotations, float base) {
    return float(n_rot) * std::log(float(original_context) / (rotations * 2.0f * std::numbers::pi_v<float>)) /
           (2.0f * std::log(base));
}

}  // namespace

RopeScalingParams rope_scaling_params(const model::RopeScaling& s, uint32_t n_rot, float freq_base) {
    RopeScalingParams p;
    if (s.kind == model::RopeScalingKind::None) {
        p.mscale = s.attn_factor;
        return p;
    }
    p.freq_scale = 1.0f / s.factor;
    if (s.kind == model::RopeScalingKind::Linear) {
        p.mscale = s.attn_factor;
        return p;
    }
    p.ext_factor = 1.0f;
    // llama_context: yarn_attn_factor = get_mscale(factor) / (1 + 0.1 ln factor), which cancels
    // the correction rope_yarn applies below except for rounding; then times the file's factor.
    const float factor = 1.0f / p.freq_scale;
    const float get_mscale = factor <= 1.0f ? 1.0f : 0.1f * std::log(factor) + 1.0f;
    const float attn_factor = get_mscale * (1.0f / (1.0f + 0.1f * std::log(factor))) * s.attn_factor;
    p.mscale = attn_factor * (1.0f + 0.1f * std::log(1.0f / p.freq_scale));
    const float start = std::floor(correction_dim(n_rot, s.original_context, s.beta_fast, freq_base));
    const float end = std::ceil(correction_dim(n_rot, s.original_context, s.beta_slow, freq_base));
    p.corr_low = std::max(0.0f, start);
    p.corr_high = std::min(float(n_rot) - 1.0f, end);
    return p;
}

}  // namespace moevk::runtime
