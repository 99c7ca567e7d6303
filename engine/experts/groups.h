// A layer's demand split into groups of experts that fit the slots at once. In a prompt batch
// the union of the experts a layer needs may exceed the slots; the layer then runs its expert
// FFN once per group, each over the rows of the group's experts only.
#pragma once

#include <cstdint>
#include <vector>

#include "experts/residency.h"

namespace moevk::experts {

// The experts already resident come first (all in the first group, so none is evicted before
// it is used), then the misses in demand order: as many as the other slots take in the first
// group, `n_slots` in each later one. Every group fits the slots with the previous groups'
// experts unpinned. Duplicates in `demand` are ignored.
std::vector<std::vector<uint32_t>> split_groups(const Residency& residency, uint32_t layer,
                                                const std::vector<uint32_t>& demand);

}  // namespace moevk::experts
