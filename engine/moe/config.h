// Shape and routing rule of one MoE layer.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "quant/formats.h"

namespace moevk::moe {

enum class Gating {
    Softmax,  // Mixtral, Qwen, OLMoE
    Sigmoid,  // DeepSeek-V3 style, usually with a selection bias
    // gpt-oss (llama.cpp's SOFTMAX_WEIGHT): selection by logit, then a softmax over the K
    // selected logits only; the weights always sum to 1.
    SoftmaxSelected,
};

// The expert's gated activation, h = act(gate x, up x).
enum class Activation {
    SwiGlu,  // silu(g) * u
    // gpt-oss's clamped variant: g' = min(g, 7), u' = clamp(u, -7, 7),
    // h = g' * sigmoid(1.702 g') * (u' + 1).
    SwiGluClamped,
};

struct MoeConfig {
    uint32_t d_model = 0;    // hidden size d
    uint32_t d_ff = 0;       // each routed expert's intermediate size
    uint32_t n_experts = 0;  // E, at most 256
    uint32_t top_k = 0;      // K, at most 16 and at most E
    Gating gating = Gating::Softmax;
    bool selection_bias = false;  // a per-expert bias added to the scores for selection only
    bool renormalize = true;      // top-k weights divided by their sum (GGUF expert_weights_norm)
    float weight_scale = 1.0f;    // applied after renormalising (GGUF expert_weights_scale)
    // Capacity factor C: an expert takes at most ceil(C*T*K/E) of T tokens' pairs, the rest
    // are dropped (contribute nothing). 0 turns the cap off.
    float capacity_factor = 0.0f;
    uint32_t d_ff_shared = 0;  // shared expert's intermediate size; 0 when there is none
    bool shared_gated = true;  // shared output scaled by sigmoid(x . g_shared) (Qwen2-MoE)
    // A per-expert bias added to the router's logits before gating and selection alike
    // (ffn_gate_inp.bias, gpt-oss), unlike selection_bias.
    bool router_bias = false;
    // Biases on every routed expert's gate, up and down outputs (ffn_{gate,up,down}_exps.bias).
    bool expert_biases = false;
    Activation activation = Activation::SwiGlu;
    quant::WeightFormat format = quant::WeightFormat::F16;
};

// Throws Error(InvalidArgument) naming the first value that does not fit.
void validate(const MoeConfig& config);

constexpr uint32_t kUncapped = std::numeric_limits<uint32_t>::max();
// Rows each expert may take for `tokens` tokens: ceil(C*T*K/E), or kUncapped.
uint32_t capacity_rows(const MoeConfig& config, uint32_t tokens);

const char* gating_name(Gating gating);  // "softmax", "sigmoid", "softmax-selected"
std::string describe(const MoeConfig& config);

}  // namespace moevk::moe
