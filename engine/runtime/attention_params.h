// How a layer's attention is parameterised, read from the model config in one place for the GPU
// forward pass (forward.cpp) and the float64 reference (reference_model.cpp) alike: the rotary
// embedding with its base and frequency scaling, the sliding window, the softmax scale.
#pragma once

#include <cstdint>

#include "model/config.h"
#include "runtime/rope_scaling.h"

namespace moevk::runtime {

struct AttentionParams {
    uint32_t n_rot = 0;
    float rope_base = 10000.0f;
    bool neox = false;
    RopeScalingParams rope_scaling;
    uint32_t window = 0;  // 0: full causal attention
    float scale = 1.0f;   // of q . k, 1/sqrt(head_dim)
};

AttentionParams attention_params(const model::ModelConfig& config, uint32_t layer);

}  // namespace moevk::runtime
