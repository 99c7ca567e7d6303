// One MoE layer's weights on the host, in the layout a GGUF file stores them: each expert's
// gate and up as [d_ff][d_model] and down as [d_model][d_ff], rows in the layer's format.
// Router, selection bias and shared-expert gate stay f32 as model files keep them.
#pragma once

#include <cstdint>
#include <span>
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
    std::vector<float> router_bias;     // [E] with config.router_bias
    // [E][ff], [E][ff], [E][d] with config.expert_biases. They stay resident in device memory
    // when the experts are paged (E * (2 ff + d) floats a layer, under 0.1% of the experts).
    std::vector<float> gate_bias, up_bias, down_bias;
};

// A non-owning view of the same arrays: what the device upload reads. Model files give views
// straight into their memory mapping, tests and benchmarks into a MoeWeights.
struct ExpertView {
    std::span<const uint8_t> gate, up, down;
};
// Formats of one expert's matrices. Files mix them (a Q4_K_M file may store ffn_down as Q6_K
// in some layers); gate and up run fused in one kernel and must share a format.
struct ExpertFormats {
    quant::WeightFormat gate_up;
    quant::WeightFormat down;
};
struct MoeWeightsView {
    MoeConfig config;  // config.format is ignored here: the formats below say it per matrix
    ExpertFormats formats;         // routed experts
    ExpertFormats shared_formats;  // shared expert
    std::span<const float> router;
    std::span<const float> selection_bias;
    std::vector<ExpertView> experts;
    ExpertView shared;
    std::span<const float> shared_gate;
    std::span<const float> router_bias;
    std::span<const float> gate_bias, up_bias, down_bias;
};
MoeWeightsView view(const MoeWeights& weights);

// Random weights scaled like a trained layer's (unit-variance activations stay O(1)), for
// tests and benchmarks. The same seed gives the same weights.
MoeWeights random_weights(const MoeConfig& config, uint64_t seed);

// Dequantised f32 copies: what the kernels compute with, and what the reference uses.
struct DenseExpert {
    uint32_t d_ff = 0;
    std::vector<float> gate, up, down;
    std::vector<float> gate_bias, up_bias, down_bias;  // [ff], [ff], [d]; empty without biases
    Activation activation = Activation::SwiGlu;
};
// Expert e's slices of a layer's bias arrays and the layer's activation, into `dense`.
void attach_biases(DenseExpert& dense, const MoeWeightsView& weights, uint32_t expert);
DenseExpert dequantize(const ExpertMatrices& m, quant::WeightFormat format, uint32_t d_model, uint32_t d_ff);

}  // namespace moevk::moe
