// Paging mode: generation from a GGUF model whose experts are paged through a VRAM budget, for
// each budget x cache policy x prefetch setting: tokens/s, hit rate, prefetch accuracy, bytes
// uploaded and time waited per token, beside two bounds: the tokens/s that the bytes uploaded
// per token allow at the measured host-to-device bandwidth, and the hit rate of Belady's
// oracle on the recorded trace of the same run.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

#include "copy_probe.h"
#include "experts/budget.h"
#include "experts/policy.h"
#include "experts/stats.h"
#include "gpu/context.h"
#include "timing.h"

namespace moebench {

struct PagingOptions {
    std::vector<std::string> budgets;  // --vram-budget values
    std::vector<moevk::experts::CachePolicy> policies;
    std::vector<bool> prefetch;
    uint32_t prompt_tokens = 0;
    uint32_t generated_tokens = 0;
};

struct PagingResult {
    std::string path;
    std::string budget;  // as given
    moevk::experts::SlotPlan plan;
    bool paged = false;  // false: every expert got a slot (one command buffer per step)
    std::string policy;  // "-" when not paged
    bool prefetch = false;
    uint32_t timed_tokens = 0;
    Summary token_seconds;
    moevk::experts::LayerStats stats;  // summed over layers, timed tokens only
    moevk::experts::PagingStats layers;  // per layer, timed tokens only
    double belady_hit_rate = 1;        // the oracle on the same trace and slots
    double upload_gbps = 0;            // the probe's

    double tokens_per_second() const { return token_seconds.samples ? 1.0 / token_seconds.median : 0; }
    double bytes_per_token() const { return timed_tokens ? double(stats.bytes_uploaded) / timed_tokens : 0; }
    // Tokens/s if uploads were the only cost; 0 when nothing is uploaded (no bound).
    double upload_bound() const { return bytes_per_token() > 0 ? upload_gbps * 1e9 / bytes_per_token() : 0; }
};

std::vector<PagingResult> bench_paging(moevk::gpu::Context& ctx, const std::string& path, const PagingOptions& options,
                                       const ProbeResult& upload);

// With `per_layer`, each paged run's statistics per layer follow the summary.
void print_paging_table(std::ostream& out, const moevk::gpu::DeviceInfo& device, const ProbeResult& upload,
                        const std::vector<PagingResult>& results, bool per_layer = false);
nlohmann::json paging_json(const moevk::gpu::DeviceInfo& device, const ProbeResult& upload,
                           const std::vector<PagingResult>& results);
// The results back from paging_json's output (enough to draw them again).
std::vector<PagingResult> paging_from_json(const nlohmann::json& j);

}  // namespace moebench
