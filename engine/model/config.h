// Hyper-parameters of a whole model, as read from GGUF metadata through the architecture table.
#pragma once

#include <cstdint>
#include <string>

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
    bool qkv_bias = false;  // attn_q/k/v may carry a bias, each optional (Qwen2-MoE)
    // Every layer's MoE block. moe.format is unused: formats come per tensor from the file.
    moe::MoeConfig moe;

    uint32_t q_dim() const { return n_heads * head_dim; }
    uint32_t kv_dim() const { return n_kv_heads * head_dim; }
};

std::string describe(const ModelConfig& config);

}  // namespace moevk::model
