// One MoE layer's weights on the host, in the layout a GGUF file stores them: each expert's
// gate and up as [d_ff][d_model] and down as [d_model][d_ff], rows in the layer's format.
// Router, selection bias and shared-expert gate stay f32 as model files keep them.
#pragma once

#include <cstdint>
#include <vector>

#include "moe/config.h"

namespace moevk::moe {

struct ExpertMatrices {
    std::vector<uint8_t> gate;  // [ff][d]
    std::vector<uint8_t> up;    // [ff][d]
    std::vector<uint8_t> down;  // [d][ff]
};

struct MoeWeights {
    MoeConfig config;
    std::vector<float> router;          // [E][d]
    std::vector<float> selection_bias;  // [E] when config.selection_bias
    std::vector<ExpertMatrices> experts;
    ExpertMatrices shared;              // with config.d_ff_shared
    std::vector<float> shared_gate;     // [d] with a gated shared expert
};

// Random weights scaled like a trained layer's (unit-variance activations stay O(1)), for
// tests and benchmarks. The same seed gives the same weights.
MoeWeights random_weights(const MoeConfig& config, uint64_t seed);

// Dequantised f32 copies: what the kernels compute with, and what the reference uses.
struct DenseExpert {
    uint32_t d_ff = 0;
    std::vector<float> gate, up, down;
};
DenseExpert dequantize(const ExpertMatrices& m, quant::WeightFormat format, uint32_t d_model, uint32_t d_ff);

}  // namespace moevk::moe
