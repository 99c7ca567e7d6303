// Hit rates replayed from a recorded trace of expert demands: the engine's own policies (what a
// run would hit without prefetch), and Belady's optimal policy, which evicts the expert whose
// next use is furthest away and so bounds every policy that cannot see the future.
#pragma once

#include <cstdint>
#include <vector>

#include "experts/policy.h"

namespace moevk::experts {

// trace[step][layer]: the distinct experts that layer needed in that forward step.
using Trace = std::vector<std::vector<std::vector<uint32_t>>>;

struct ReplayResult {
    uint64_t hits = 0;
    uint64_t misses = 0;
    double hit_rate() const { return hits + misses ? double(hits) / double(hits + misses) : 1.0; }
};

// Both take the demands in order; a layer's experts are pinned while they are loaded, and a
// demand larger than the slots is served in groups of `slots` experts as the engine does.
ReplayResult replay_policy(const Trace& trace, uint32_t n_experts, uint32_t slots, CachePolicy policy,
                           double lfu_decay = 0.9);
ReplayResult replay_belady(const Trace& trace, uint32_t n_experts, uint32_t slots);

}  // namespace moevk::experts
