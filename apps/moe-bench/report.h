// moe-bench output: a table for people and JSON for tools.
#pragma once

#include <ostream>
#include <vector>

#include <nlohmann/json.hpp>

#include "copy_probe.h"
#include "gpu/context.h"
#include "layer_bench.h"

namespace moebench {

void print_table(std::ostream& out, const moevk::gpu::DeviceInfo& device, const ProbeResult& probe,
                 const std::vector<LayerResult>& results);
nlohmann::json to_json(const moevk::gpu::DeviceInfo& device, const ProbeResult& probe,
                       const std::vector<LayerResult>& results);

}  // namespace moebench
