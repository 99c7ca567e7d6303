// Which expert each slot holds, and which slots may be reused: the host-side bookkeeping of the
// slot pool, with no GPU in it (tests drive it directly).
//
// A slot may be given to another expert only when no queued dispatch still reads it: it must
// not be pinned (the layer being planned, or a group being run, needs it), and the upload that
// overwrites it waits on the compute timeline until its last use. Prefetch, which must never
// stall anything, only takes slots whose last use has already completed (`settled`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "experts/policy.h"

namespace moevk::experts {

constexpr uint32_t kNoSlot = 0xFFFFFFFFu;

struct Slot {
    uint32_t layer = kNoSlot;  // kNoSlot: empty
    uint32_t expert = kNoSlot;
    bool pinned = false;
    bool prefetched = false;  // filled by prefetch, not demanded since
    uint64_t last_use = 0;    // compute timeline value of the last submission that reads it
    uint64_t ready = 0;       // transfer timeline value of the upload that filled it
    bool empty() const { return layer == kNoSlot; }
};

class Residency {
public:
    Residency(uint32_t n_layers, uint32_t n_experts, uint32_t n_slots, CachePolicy policy, double lfu_decay = 0.9);

    uint32_t n_slots() const { return static_cast<uint32_t>(slots_.size()); }
    uint32_t n_layers() const { return n_layers_; }
    uint32_t n_experts() const { return n_experts_; }
    const Slot& slot(uint32_t s) const { return slots_.at(s); }
    // The slot holding (layer, expert), or kNoSlot.
    uint32_t slot_of(uint32_t layer, uint32_t expert) const { return where_.at(key(layer, expert)); }

    // The slot for a new expert: the lowest empty one, else the policy's lowest-ranked slot that
    // is not pinned and, with `settled`, whose last use is at most that compute timeline value.
    // kNoSlot when none qualifies.
    uint32_t pick_slot(std::optional<uint64_t> settled = std::nullopt) const;
    // Puts (layer, expert) in slot s, evicting whatever it held. The slot keeps its last use
    // (the overwriting upload must wait for it) and is neither pinned nor prefetched.
    void assign(uint32_t s, uint32_t layer, uint32_t expert);
    // Forgets the slot's expert (an upload into it failed: its bytes are undefined).
    void clear(uint32_t s);

    void pin(uint32_t s) { slots_.at(s).pinned = true; }
    void unpin(uint32_t s) { slots_.at(s).pinned = false; }
    void unpin_all();
    void set_last_use(uint32_t s, uint64_t value) { slots_.at(s).last_use = value; }
    void set_ready(uint32_t s, uint64_t value) { slots_.at(s).ready = value; }
    void set_prefetched(uint32_t s, bool value) { slots_.at(s).prefetched = value; }

    // For the policy: a use of a resident expert, and the end of a forward step.
    void access(uint32_t layer, uint32_t expert) { policy_->on_access(key(layer, expert)); }
    void end_step() { policy_->on_step(); }

private:
    uint32_t key(uint32_t layer, uint32_t expert) const { return layer * n_experts_ + expert; }

    uint32_t n_layers_;
    uint32_t n_experts_;
    std::vector<Slot> slots_;
    std::vector<uint32_t> where_;  // [layer * E + expert] -> slot or kNoSlot
    std::unique_ptr<ReplacementPolicy> policy_;
};

}  // namespace moevk::experts
