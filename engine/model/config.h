// Hyper-parameters of a whole model, as read from GGUF metadata through the architecture table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "moe/config.h"

namespace moevk::model {

enum class RopeOrdering {
    Normal,  // rotate pairs (2i, 2i+1): llama, Mixtral, DeepSeek
    NeoX,    // rotate pairs (i, i + n_rot/2): Qwen, OLMoE, Phi
};

enum class QkNorm {
    None,
    PerHead,  // RMS-norm over each head's head_dim values (Qwen3)
    Whole,    // RMS-norm over all heads of q (and of k) at once (OLMoE)
};

// RoPE frequency scaling as llama.cpp reads it (rope.scaling.*).
enum class RopeScalingKind { None, Linear, Yarn };
struct RopeScaling {
    RopeScalingKind kind = RopeScalingKind::None;
    float factor = 1.0f;             // rope.scaling.factor: positions are interpolated by 1/factor
    uint32_t original_context = 0;   // rope.scaling.original_context_length (YaRN's n_ctx_orig)
    float attn_factor = 1.0f;        // rope.scaling.attn_factor: scales cos and sin
    float beta_fast = 32.0f;         // llama.cpp's YaRN defaults (no GGUF key)
    float beta_slow = 1.0f;
};

struct ModelConfig {
    std::string architecture;  // general.architecture
    uint32_t n_layers = 0;
    uint32_t d_model = 0;
    uint32_t n_heads = 0;
    uint32_t n_kv_heads = 0;
    uint32_t head_dim = 0;  // key_length (= value_length here)
    uint32_t n_rot = 0;     // rope.dimension_count, at most head_dim
    uint32_t n_vocab = 0;
    uint32_t n_ctx_train = 0;
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;
    RopeOrdering rope = RopeOrdering::Normal;
    QkNorm qk_norm = QkNorm::None;
    bool qkv_bias = false;       // attn_q/k/v may carry a bias, each optional (Qwen2-MoE, gpt-oss)
    bool output_bias = false;    // attn_output.bias (gpt-oss)
    bool attention_sinks = false;  // attn_sinks.weight: a learned logit per head in the softmax
    // The tensor that normalises the MoE block's input: "ffn_norm", or "post_attention_norm"
    // (gpt-oss, which names it after the attention it follows).
    std::string moe_norm = "ffn_norm";
    RopeScaling rope_scaling;
    float rope_base_sliding = 10000.0f;  // rope.freq_base_swa on sliding-window layers, else rope_base
    // Sliding-window attention: on the layers marked in `sliding_layers` a token attends to the
    // last `sliding_window` positions, itself included (llama.cpp's standard SWA). Empty: none.
    uint32_t sliding_window = 0;
    std::vector<bool> sliding_layers;
    bool sliding(uint32_t layer) const { return layer < sliding_layers.size() && sliding_layers[layer]; }
    // Every layer's MoE block. moe.format is unused: formats come per tensor from the file.
    moe::MoeConfig moe;

    uint32_t q_dim() const { return n_heads * head_dim; }
    uint32_t kv_dim() const { return n_kv_heads * head_dim; }
    float layer_rope_base(uint32_t layer) const { return sliding(layer) ? rope_base_sliding : rope_base; }
};

std::string describe(const ModelConfig& config);

}  // namespace moevk::model
