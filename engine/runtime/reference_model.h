// The whole forward pass on the CPU in double precision, on the dequantised weights: the
// reference the GPU runtime is tested against on generated models. Slow and simple on purpose.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "model/model_file.h"

namespace moevk::runtime::ref {

struct ForwardResult {
    std::vector<double> logits;                 // [T][n_vocab]
    std::vector<std::vector<uint32_t>> experts;  // [layer][T * K], best first
    // [layer][T]: the gap between the K-th and (K+1)-th routing score of each token; where it
    // is tiny an f32 engine may pick the other expert and still be right.
    std::vector<std::vector<double>> routing_margin;
};

// Runs `tokens` from position 0 (one prompt batch; causal attention within it).
ForwardResult forward(const model::ModelFile& model, std::span<const uint32_t> tokens);

}  // namespace moevk::runtime::ref
