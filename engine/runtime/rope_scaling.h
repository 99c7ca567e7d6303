// RoPE frequency scaling as llama.cpp applies it (ggml's rope_yarn), reduced to the numbers a
// rotation needs. The GPU kernel (shaders/nn/rope.comp) and the float64 reference
// (reference_ops.h) both take these, computed once per layer from the file's rope.scaling.* keys.
//
// Pair i of a head at position p turns by
//   theta_extrap = p * base^(-2i/n_rot),  theta_interp = freq_scale * theta_extrap,
//   mix = ramp(i) * ext_factor,  ramp(i) = 1 - clamp((i - corr_low) / max(0.001, corr_high - corr_low), 0, 1),
//   theta = theta_interp * (1 - mix) + theta_extrap * mix,
// and its cos and sin are multiplied by mscale. No scaling is freq_scale = 1, ext_factor = 0,
// mscale = 1; linear scaling only lowers freq_scale; YaRN sets ext_factor = 1, the ramp's
// correction range and the magnitude correction mscale.
#pragma once

#include <cstdint>

#include "model/config.h"

namespace moevk::runtime {

struct RopeScalingParams {
    float freq_scale = 1.0f;
    float ext_factor = 0.0f;
    float corr_low = 0.0f;
    float corr_high = 0.0f;
    float mscale = 1.0f;

    bool scales() const { return freq_scale != 1.0f || ext_factor != 0.0f || mscale != 1.0f; }
};

// From the config's rope scaling, for a layer turning n_rot dims with base frequency freq_base.
// Follows llama.cpp in float arithmetic (llama_context's yarn_attn_factor, ggml's
// ggml_rope_yarn_corr_dims and rope_yarn), so the integer correction range comes out the same.
RopeScalingParams rope_scaling_params(const model::RopeScaling& scaling, uint32_t n_rot, float freq_base);

}  // namespace moevk::runtime
