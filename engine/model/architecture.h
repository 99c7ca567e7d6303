// The architecture table: what differs between the MoE model families moe-vk runs, as data.
// Adding a family whose layers are built from the same pieces is one more entry.
#pragma once

#include <span>
#include <string_view>

#include "gguf/gguf.h"
#include "model/config.h"

namespace moevk::model {

struct Architecture {
    std::string_view name;  // general.architecture
    RopeOrdering rope;
    QkNorm qk_norm;
    bool qkv_bias;
    // Whether the top-k weights are divided by their sum, where the file has no
    // <arch>.expert_weights_norm key (llama.cpp's default for the family).
    bool renormalize;
    bool shared_expert;  // ffn_{gate,up,down}_shexp, gated by ffn_gate_inp_shexp
};

std::span<const Architecture> architectures();
// nullptr when the name is not in the table.
const Architecture* find_architecture(std::string_view name);

// Reads and checks the hyper-parameters. Errors name the file and the key: Unsupported for an
// architecture not in the table, BadFile for a missing or out-of-range value.
ModelConfig read_config(const gguf::File& file);

}  // namespace moevk::model
