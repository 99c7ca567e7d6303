#include "experts/groups.h"

#include <algorithm>

namespace moevk::experts {

std::vector<std::vector<uint32_t>> split_groups(const Residency& r, uint32_t layer,
                                                const std::vector<uint32_t>& demand) {
    std::vector<uint32_t> hits, misses;
    std::vector<bool> seen(r.n_experts(), false);
    for (uint32_t e : demand) {
        if (seen.at(e)) continue;
        seen[e] = true;
        (r.slot_of(layer, e) != kNoSlot ? hits : misses).push_back(e);
    }
    std::vector<std::vector<uint32_t>> groups;
    if (hits.empty() && misses.empty()) return groups;
    groups.push_back(hits);
    size_t next = 0;
    size_t room = r.n_slots() - hits.size();
    while (next < misses.size()) {
        if (room == 0) {
            groups.emplace_back();
            room = r.n_slots();
        }
        size_t take = std::min(room, misses.size() - next);
        groups.back().insert(groups.back().end(), misses.begin() + next, misses.begin() + next + take);
        next += take;
        room -= take;
    }
    return groups;
}

}  // namespace moevk::experts
