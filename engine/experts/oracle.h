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
// demand larger than the slots is served in groups as the engine does (split_groups). Demands
// before step `count_from` warm the cache without being counted. Without prefetch, a policy's
// replay of a session's trace gives the hits the session counted.
ReplayResult replay_policy(const Trace& trace, uint32_t n_experts, uint32_t slots, CachePolicy policy,
                           double lfu_decay = 0.9, size_t count_from = 0);
ReplayResult replay_belady(const Trace& trace, uint32_t n_experts, uint32_t slots, size_t count_from = 0);

// One forward step's demands from the experts a session selected ([layer][T * K] ids, as
// Session::selected_experts() gives them for one step): each layer's distinct experts in the
// order the engine plans them, ascending (the permutation's tile order) for a batch of more
// than one token, in order of selection for one.
std::vector<std::vector<uint32_t>> trace_step(const std::vector<std::vector<uint32_t>>& selected, uint32_t tokens);

}  // namespace moevk::experts
