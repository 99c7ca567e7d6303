// The device memory the engine may use (--vram-budget), and how many expert slots that leaves
// once the weights that always stay resident, the KV cache and the scratch buffers are placed.
// The pageable unit is one expert of one layer; a slot holds any layer's expert.
#pragma once

#include <cstdint>
#include <string>

namespace moevk::experts {

struct VramBudget {
    enum class Kind {
        Bytes,    // device bytes for everything: "6G", "512M", "1073741824"
        Percent,  // this share of all experts (layers x experts) gets a slot: "50%"
        Min,      // the smallest budget that works: one layer's top-k
    };
    Kind kind = Kind::Min;
    uint64_t bytes = 0;
    double percent = 0;
};

// Suffixes K, M, G, T are binary (1G = 2^30 bytes) and may be followed by "B" or "iB"; a value
// may have a fraction ("1.5G"). Throws Error(InvalidArgument) naming the text.
VramBudget parse_vram_budget(const std::string& text);
std::string describe(const VramBudget& budget);
// "1.50 GiB", "512.0 MiB": for messages.
std::string format_bytes(uint64_t bytes);

// What the engine needs besides the slots.
struct SlotDemand {
    uint64_t resident_bytes = 0;  // weights that stay on the device (all but the routed experts)
    uint64_t session_bytes = 0;   // KV cache, activations, scratch, expert tables
    uint64_t slot_bytes = 0;      // one slot: the largest expert of any layer
    uint32_t total_experts = 0;   // layers x experts
    uint32_t min_slots = 0;       // top_k: one token's selection in one layer must fit at once
};

struct SlotPlan {
    uint32_t slots = 0;  // at most total_experts
    uint32_t total_experts = 0;
    uint64_t slot_bytes = 0;
    uint64_t resident_bytes = 0;    // as in the demand
    uint64_t session_bytes = 0;
    uint64_t device_bytes = 0;      // resident + session + slots x slot_bytes
    uint64_t min_budget_bytes = 0;  // what "min" needs
    bool all_resident() const { return slots == total_experts; }
    double share() const { return total_experts ? double(slots) / total_experts : 0; }
};
// "12 of 24 expert slots (50%) of 1.50 MiB; device memory 40.1 MiB: 12.0 MiB resident
// weights, 10.1 MiB KV cache and scratch, 18.0 MiB slots"
std::string describe(const SlotPlan& plan);

// Throws Error(InvalidArgument) when the budget cannot hold min_slots slots, naming the budget
// and the minimum that would work.
SlotPlan plan_slots(const VramBudget& budget, const SlotDemand& demand);

}  // namespace moevk::experts
