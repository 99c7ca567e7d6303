// Model mode: a whole GGUF model on the device, prompt processing and generation in tokens/s,
// with GB/s from the bytes of the weights each generated token reads (the selected experts
// only), to set beside the copy probe's ceiling. Also writes synthetic models of real shapes.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>

#include "copy_probe.h"
#include "gpu/context.h"
#include "model/synthetic.h"
#include "timing.h"

namespace moebench {

struct ModelResult {
    std::string path;
    std::string description;
    uint64_t file_bytes = 0;
    uint64_t active_bytes = 0;  // weights one generated token reads
    uint32_t prompt_tokens = 0;
    uint32_t generated_tokens = 0;
    Summary prompt_seconds;    // one whole prompt, from an empty cache
    Summary generate_seconds;  // one generated token
};

// Wall-clock times of Session::eval (host submit and wait included: what an application sees).
ModelResult bench_model(moevk::gpu::Context& ctx, const std::string& path, uint32_t prompt_tokens,
                        uint32_t generated_tokens, double min_seconds);

void print_model_table(std::ostream& out, const moevk::gpu::DeviceInfo& device, const ProbeResult& probe,
                       const std::vector<ModelResult>& results);
nlohmann::json model_json(const moevk::gpu::DeviceInfo& device, const ProbeResult& probe,
                          const std::vector<ModelResult>& results);

// Named synthetic shapes for --write-model: "mixtral-3b" (a Mixtral-like layout of 3.8 GB in
// Q4_K), "mixtral-mid" (Mixtral's proportions at d 1024, 8 layers), "tiny" (seconds to write, for
// smoke tests). n_vocab is the caller's: main.cpp takes it from the vocabulary it copies in.
moevk::model::SyntheticSpec synthetic_shape(const std::string& name);

}  // namespace moebench
