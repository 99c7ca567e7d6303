// Cache replacement policies for expert slots. A policy ranks experts; the slot whose expert
// ranks lowest among those that may be evicted goes first. Keys are layer * n_experts + expert.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace moevk::experts {

enum class CachePolicy {
    Lru,  // least recently used
    Lfu,  // least frequently used, counts decaying by a factor per forward step
};
const char* policy_name(CachePolicy policy);
std::optional<CachePolicy> parse_policy(std::string_view name);  // "lru", "lfu", any case

// Lower ranks are evicted first; ties go to the lower slot index.
struct Rank {
    double primary = 0;
    uint64_t secondary = 0;
    bool operator<(const Rank& o) const {
        return primary != o.primary ? primary < o.primary : secondary < o.secondary;
    }
};

class ReplacementPolicy {
public:
    virtual ~ReplacementPolicy() = default;
    // An expert was used (a hit, or the upload of a miss) in the current step.
    virtual void on_access(uint32_t key) = 0;
    // A forward step ended (one token in generation, one batch in a prompt).
    virtual void on_step() {}
    virtual Rank rank(uint32_t key) const = 0;
};

// LFU counts every expert's uses, resident or not, and multiplies them by `lfu_decay` (0..1]
// each step, so experts that were popular long ago make way for the ones now in use.
std::unique_ptr<ReplacementPolicy> make_policy(CachePolicy policy, uint32_t n_keys, double lfu_decay = 0.9);

}  // namespace moevk::experts
