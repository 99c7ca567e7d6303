#include "experts/residency.h"

#include <string>

#include "gpu/error.h"

namespace moevk::experts {

Residency::Residency(uint32_t n_layers, uint32_t n_experts, uint32_t n_slots, CachePolicy policy,
                     double lfu_decay)
    : n_layers_(n_layers), n_experts_(n_experts) {
    if (n_layers == 0 || n_experts == 0 || n_slots == 0)
        throw Error(ErrorCode::InvalidArgument, "expert residency: " + std::to_string(n_layers) + " layers, " +
                                                    std::to_string(n_experts) + " experts and " +
                                                    std::to_string(n_slots) + " slots: each must be positive");
    uint32_t n_keys = n_layers * n_experts;
    slots_.resize(std::min(n_slots, n_keys));
    where_.assign(n_keys, kNoSlot);
    policy_ = make_policy(policy, n_keys, lfu_decay);
}

uint32_t Residency::pick_slot(std::optional<uint64_t> settled) const {
    uint32_t best = kNoSlot;
    Rank best_rank;
    for (uint32_t s = 0; s < slots_.size(); ++s) {
        const Slot& slot = slots_[s];
        if (slot.empty()) {
            // An empty slot still waits for its last reader when its upload failed mid-step.
            if (!settled || slot.last_use <= *settled) return s;
            continue;
        }
        if (slot.pinned || (settled && slot.last_use > *settled)) continue;
        Rank r = policy_->rank(key(slot.layer, slot.expert));
        if (best == kNoSlot || r < best_rank) {
            best = s;
            best_rank = r;
        }
    }
    return best;
}

void Residency::assign(uint32_t s, uint32_t layer, uint32_t expert) {
    if (layer >= n_layers_ || expert >= n_experts_)
        throw Error(ErrorCode::InvalidArgument, "expert residency: layer " + std::to_string(layer) + ", expert " +
                                                    std::to_string(expert) + " is outside the model");
    if (where_.at(key(layer, expert)) != kNoSlot)
        throw Error(ErrorCode::InvalidArgument, "expert residency: layer " + std::to_string(layer) + " expert " +
                                                    std::to_string(expert) + " already has a slot");
    clear(s);
    Slot& slot = slots_[s];
    slot.layer = layer;
    slot.expert = expert;
    where_[key(layer, expert)] = s;
}

void Residency::clear(uint32_t s) {
    Slot& slot = slots_.at(s);
    if (!slot.empty()) where_[key(slot.layer, slot.expert)] = kNoSlot;
    slot.layer = slot.expert = kNoSlot;
    slot.pinned = false;
    slot.prefetched = false;
}

void Residency::unpin_all() {
    for (Slot& s : slots_) s.pinned = false;
}

}  // namespace moevk::experts
