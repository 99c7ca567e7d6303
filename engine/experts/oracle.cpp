#include "experts/oracle.h"

#include <algorithm>
#include <limits>

#include "experts/groups.h"
#include "experts/residency.h"
#include "gpu/error.h"

namespace moevk::experts {
namespace {

void check(const Trace& trace, uint32_t n_experts, uint32_t slots) {
    if (slots == 0) throw Error(ErrorCode::InvalidArgument, "trace replay: 0 slots");
    for (const auto& step : trace)
        for (const auto& layer : step)
            for (uint32_t e : layer)
                if (e >= n_experts)
                    throw Error(ErrorCode::InvalidArgument, "trace replay: expert " + std::to_string(e) +
                                                                " of a model with " + std::to_string(n_experts));
}

uint32_t n_layers_of(const Trace& trace) {
    size_t n = 0;
    for (const auto& step : trace) n = std::max(n, step.size());
    return static_cast<uint32_t>(n);
}

}  // namespace

ReplayResult replay_policy(const Trace& trace, uint32_t n_experts, uint32_t slots, CachePolicy policy,
                           double lfu_decay, size_t count_from) {
    check(trace, n_experts, slots);
    ReplayResult out;
    uint32_t n_layers = n_layers_of(trace);
    if (n_layers == 0) return out;
    Residency r(n_layers, n_experts, slots, policy, lfu_decay);
    for (size_t i = 0; i < trace.size(); ++i) {
        const auto& step = trace[i];
        const bool counted = i >= count_from;
        for (uint32_t l = 0; l < step.size(); ++l) {
            for (const std::vector<uint32_t>& group : split_groups(r, l, step[l])) {
                for (uint32_t e : group) {
                    uint32_t s = r.slot_of(l, e);
                    if (s != kNoSlot) {
                        out.hits += counted;
                    } else {
                        out.misses += counted;
                        s = r.pick_slot();
                        r.assign(s, l, e);
                    }
                    r.pin(s);
                    r.access(l, e);
                }
                r.unpin_all();
            }
        }
        r.end_step();
    }
    return out;
}

ReplayResult replay_belady(const Trace& trace, uint32_t n_experts, uint32_t slots, size_t count_from) {
    check(trace, n_experts, slots);
    ReplayResult out;
    uint32_t n_layers = n_layers_of(trace);
    if (n_layers == 0) return out;
    // Each (step, layer) demand is one position in time; uses[key] lists the positions of a key.
    const uint32_t n_keys = n_layers * n_experts;
    std::vector<std::vector<uint64_t>> uses(n_keys);
    uint64_t pos = 0;
    for (const auto& step : trace)
        for (uint32_t l = 0; l < step.size(); ++l, ++pos)
            for (uint32_t e : step[l]) uses[l * n_experts + e].push_back(pos);
    auto next_use = [&](uint32_t key, uint64_t after) {
        const auto& u = uses[key];
        auto it = std::upper_bound(u.begin(), u.end(), after);
        return it == u.end() ? std::numeric_limits<uint64_t>::max() : *it;
    };

    // The same bookkeeping as the engine's, with the victim chosen by next use instead of rank.
    Residency r(n_layers, n_experts, slots, CachePolicy::Lru);
    pos = 0;
    for (size_t i = 0; i < trace.size(); ++i) {
        const auto& step = trace[i];
        const bool counted = i >= count_from;
        for (uint32_t l = 0; l < step.size(); ++l, ++pos) {
            for (const std::vector<uint32_t>& group : split_groups(r, l, step[l])) {
                for (uint32_t e : group) {
                    uint32_t s = r.slot_of(l, e);
                    if (s != kNoSlot) {
                        out.hits += counted;
                    } else {
                        out.misses += counted;
                        uint64_t furthest = 0;
                        for (uint32_t i = 0; i < r.n_slots(); ++i) {
                            const Slot& slot = r.slot(i);
                            if (slot.empty()) {
                                s = i;
                                break;
                            }
                            if (slot.pinned) continue;
                            uint64_t n = next_use(slot.layer * n_experts + slot.expert, pos);
                            if (s == kNoSlot || n > furthest) {
                                s = i;
                                furthest = n;
                            }
                        }
                        r.assign(s, l, e);
                    }
                    r.pin(s);
                }
                r.unpin_all();
            }
        }
    }
    return out;
}

std::vector<std::vector<uint32_t>> trace_step(const std::vector<std::vector<uint32_t>>& selected, uint32_t tokens) {
    std::vector<std::vector<uint32_t>> step;
    for (const std::vector<uint32_t>& ids : selected) {
        std::vector<uint32_t> distinct;
        for (uint32_t e : ids)
            if (std::find(distinct.begin(), distinct.end(), e) == distinct.end()) distinct.push_back(e);
        if (tokens > 1) std::sort(distinct.begin(), distinct.end());
        step.push_back(std::move(distinct));
    }
    return step;
}

}  // namespace moevk::experts
