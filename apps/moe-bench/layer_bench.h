// Times one MoE layer configuration stage by stage with GPU timestamps, and models the bytes
// and FLOPs each stage must move: only the experts the routing actually selected count.
#pragma once

#include <array>
#include <string>

#include "gpu/context.h"
#include "moe/config.h"
#include "moe/layer.h"
#include "timing.h"

namespace moebench {

struct StageResult {
    std::string name;
    Summary seconds;
    double bytes = 0;
    double flops = 0;
};

struct LayerResult {
    std::string shape;
    moevk::moe::MoeConfig config;
    uint32_t tokens = 0;
    uint32_t experts_touched = 0;  // distinct experts the routing selected
    bool matvec_path = false;
    std::vector<StageResult> stages;  // each stage, then "layer" for the whole
};

LayerResult bench_layer(moevk::gpu::Context& ctx, const std::string& shape, const moevk::moe::MoeConfig& config,
                        uint32_t tokens, double min_seconds, uint64_t seed);

}  // namespace moebench
