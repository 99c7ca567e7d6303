// The architecture table: each MoE family moe-vk runs, as a recipe of named pieces. read_config()
// turns a recipe and a file's metadata into a ModelConfig; from there each piece is interpreted
// in one place (the tensors it binds in model_file.cpp, its kernels in runtime/forward.cpp and
// moe/layer.cpp, its float64 form in runtime/reference_model.cpp, its tensors written in
// synthetic.cpp). A new family built from known pieces is one more entry; only a piece that is
// really new needs code.
#pragma once

#include <span>
#include <string_view>

#include "gguf/gguf.h"
#include "model/config.h"

namespace moevk::model {

struct Architecture {
    std::string_view name;  // general.architecture

    // Attention.
    RopeOrdering rope = RopeOrdering::Normal;
    QkNorm qk_norm = QkNorm::None;
    bool qkv_bias = false;         // optional attn_{q,k,v}.bias
    bool output_bias = false;      // attn_output.bias
    bool attention_sinks = false;  // attn_sinks.weight
    // Sliding-window attention: 0 for none; else llama.cpp's default layer pattern n (layer i
    // slides when i % n < n - 1), which attention.sliding_window_pattern in the file overrides.
    uint32_t sliding_window_pattern = 0;
    std::string_view moe_norm = "ffn_norm";  // the norm before the MoE block

    // The MoE block.
    moe::Gating gating = moe::Gating::Softmax;  // where the file has no expert_gating_func
    bool fixed_gating = false;  // the family's graph ignores expert_gating_func (gpt-oss)
    // Whether the top-k weights are divided by their sum, where the file has no
    // <arch>.expert_weights_norm key (llama.cpp's default for the family).
    bool renormalize = false;
    bool shared_expert = false;  // ffn_{gate,up,down}_shexp, gated by ffn_gate_inp_shexp
    bool router_bias = false;    // ffn_gate_inp.bias
    bool expert_biases = false;  // ffn_{gate,up,down}_exps.bias
    moe::Activation activation = moe::Activation::SwiGlu;
};

std::span<const Architecture> architectures();
// nullptr when the name is not in the table.
const Architecture* find_architecture(std::string_view name);

// Reads and checks the hyper-parameters. Errors name the file and the key: Unsupported for an
// architecture not in the table, BadFile for a missing or out-of-range value.
ModelConfig read_config(const gguf::File& file);

}  // namespace moevk::model
