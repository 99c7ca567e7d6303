// A model file opened for inference: the GGUF mapping, its hyper-parameters, and a view of every
// tensor the forward pass reads, each checked for presence, shape and type against the
// hyper-parameters. The views point into the memory mapping; nothing is copied here.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/config.h"
#include "moe/weights.h"

namespace moevk::model {

// A 2-D weight W[rows][row_len] as the file stores it.
struct Matrix {
    std::string name;
    quant::WeightFormat format = quant::WeightFormat::F32;
    uint32_t rows = 0;
    uint32_t row_len = 0;
    std::span<const uint8_t> bytes;
};

struct LayerWeights {
    std::span<const float> attn_norm;  // [d]
    Matrix wq, wk, wv;                 // [q_dim][d], [kv_dim][d], [kv_dim][d]
    Matrix wo;                         // [d][q_dim]
    std::span<const float> q_bias, k_bias, v_bias;  // with qkv_bias, each where the file has it
    std::span<const float> o_bias;                  // [d] with output_bias
    std::span<const float> sinks;                   // [n_heads] with attention_sinks
    std::span<const float> q_norm, k_norm;          // [head_dim] per head, or [q_dim] / [kv_dim] whole
    std::span<const float> ffn_norm;                // [d], the config's moe_norm tensor
    moe::MoeWeightsView moe;
};

struct ModelWeights {
    Matrix token_embd;  // [n_vocab][d]
    std::span<const float> output_norm;
    Matrix output;  // [n_vocab][d]; the token embedding where the file ties them
    std::vector<LayerWeights> layers;
};

class ModelFile {
public:
    // Throws Error naming the file and the key or tensor that does not fit: BadFile for a
    // malformed or inconsistent file, Unsupported for an architecture or tensor type moe-vk
    // does not run.
    static ModelFile open(const std::string& path);
    // The same over a file already open (tests build files in memory).
    static ModelFile from(gguf::File file);

    const gguf::File& file() const { return file_; }
    const ModelConfig& config() const { return config_; }
    const ModelWeights& weights() const { return weights_; }
    // Bytes of the weights one token reads: everything but the unselected experts.
    uint64_t active_weight_bytes() const;

private:
    explicit ModelFile(gguf::File file) : file_(std::move(file)) {}
    gguf::File file_;
    ModelConfig config_;
    ModelWeights weights_;
};

}  // namespace moevk::model
