#include "model/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "gpu/error.h"
#include "model/architecture.h"
#include "quant/ggml_types.h"

namespace moevk::model {
namespace {

class Generator {
public:
    explicit Generator(uint64_t seed) : rng_(seed) {}

    std::vector<float> uniform(size_t n, float lo, float hi) {
        std::uniform_real_distribution<float> dist(lo, hi);
        std::vector<float> v(n);
        for (float& x : v) x = dist(rng_);
        return v;
    }
    // Scaled so a product with unit-scale activations stays unit-scale.
    std::vector<float> weights(size_t rows, size_t fan_in) {
        float b = std::sqrt(3.0f / float(fan_in));
        return uniform(rows * fan_in, -b, b);
    }

private:
    std::mt19937_64 rng_;
};

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

}  // namespace

gguf::Writer synthetic_model(const SyntheticSpec& s) {
    const Architecture* arch = find_architecture(s.architecture);
    if (!arch)
        throw Error(ErrorCode::InvalidArgument, "synthetic model: unknown architecture '" + s.architecture + "'");
    Generator g(s.seed);
    gguf::Writer w;
    const std::string a = s.architecture + ".";
    const uint32_t q_dim = s.n_heads * s.head_dim, kv_dim = s.n_kv_heads * s.head_dim;
    w.set_string("general.architecture", s.architecture);
    w.set_string("general.name", "moe-vk synthetic " + s.architecture);
    w.set_uint32(a + "block_count", s.n_layers);
    w.set_uint32(a + "context_length", 4096);
    w.set_uint32(a + "embedding_length", s.d_model);
    w.set_uint32(a + "attention.head_count", s.n_heads);
    w.set_uint32(a + "attention.head_count_kv", s.n_kv_heads);
    w.set_uint32(a + "attention.key_length", s.head_dim);
    w.set_uint32(a + "attention.value_length", s.head_dim);
    w.set_uint32(a + "rope.dimension_count", s.n_rot ? s.n_rot : s.head_dim);
    w.set_float32(a + "rope.freq_base", s.rope_base);
    w.set_float32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
    w.set_uint32(a + "expert_count", s.n_experts);
    w.set_uint32(a + "expert_used_count", s.top_k);
    w.set_uint32(a + "expert_feed_forward_length", s.d_ff);
    w.set_uint32(a + "vocab_size", s.n_vocab);
    if (arch->shared_expert) w.set_uint32(a + "expert_shared_feed_forward_length", s.d_ff_shared);
    if (arch->sliding_window_pattern) w.set_uint32(a + "attention.sliding_window", s.sliding_window);
    if (!s.rope_scaling.empty()) {
        w.set_string(a + "rope.scaling.type", s.rope_scaling);
        w.set_float32(a + "rope.scaling.factor", s.rope_scaling_factor);
        if (s.rope_original_context) w.set_uint32(a + "rope.scaling.original_context_length", s.rope_original_context);
    }

    auto matrix = [&](const std::string& name, quant::WeightFormat f, uint32_t rows, uint32_t row_len) {
        w.add_tensor(name, {row_len, rows}, quant::to_ggml_type(f),
                     quant::encode_matrix(f, g.weights(rows, row_len), rows, row_len));
    };
    auto vec = [&](const std::string& name, std::vector<float> v) {
        uint64_t n = v.size();
        w.add_tensor(name, {n}, quant::GgmlType::F32, f32_bytes(v));
    };
    // Norm weights near 1, as trained models have them.
    auto norm = [&](const std::string& name, uint32_t n) { vec(name, g.uniform(n, 0.8f, 1.2f)); };
    // [E][rows][row_len] expert tensors, n distinct experts repeated when distinct_experts is set;
    // with split_experts, E tensors [rows][row_len] named blk.N.<matrix>.E.weight instead.
    auto experts = [&](const std::string& name, quant::WeightFormat f, uint32_t rows, uint32_t row_len) {
        uint32_t distinct = s.distinct_experts ? std::min(s.distinct_experts, s.n_experts) : s.n_experts;
        std::vector<std::vector<uint8_t>> pool;
        for (uint32_t e = 0; e < distinct; ++e)
            pool.push_back(quant::encode_matrix(f, g.weights(rows, row_len), rows, row_len));
        if (s.split_experts) {
            const std::string stem = name.substr(0, name.size() - std::string("_exps.weight").size());
            for (uint32_t e = 0; e < s.n_experts; ++e)
                w.add_tensor(stem + "." + std::to_string(e) + ".weight", {row_len, rows}, quant::to_ggml_type(f),
                             pool[e % distinct]);
            return;
        }
        std::vector<uint8_t> all;
        all.reserve(pool[0].size() * s.n_experts);
        for (uint32_t e = 0; e < s.n_experts; ++e) all.insert(all.end(), pool[e % distinct].begin(), pool[e % distinct].end());
        w.add_tensor(name, {row_len, rows, s.n_experts}, quant::to_ggml_type(f), std::move(all));
    };

    {
        std::vector<float> embd = g.uniform(size_t(s.n_vocab) * s.d_model, -1.0f, 1.0f);
        w.add_tensor("token_embd.weight", {s.d_model, s.n_vocab}, quant::to_ggml_type(s.embed_format),
                     quant::encode_matrix(s.embed_format, embd, s.n_vocab, s.d_model));
    }
    norm("output_norm.weight", s.d_model);
    if (!s.tied_output) matrix("output.weight", s.output_format, s.n_vocab, s.d_model);

    for (uint32_t i = 0; i < s.n_layers; ++i) {
        std::string p = "blk." + std::to_string(i) + ".";
        norm(p + "attn_norm.weight", s.d_model);
        matrix(p + "attn_q.weight", s.attn_format, q_dim, s.d_model);
        matrix(p + "attn_k.weight", s.attn_format, kv_dim, s.d_model);
        matrix(p + "attn_v.weight", s.attn_format, kv_dim, s.d_model);
        matrix(p + "attn_output.weight", s.attn_format, s.d_model, q_dim);
        if (arch->qkv_bias && s.qkv_bias) {
            vec(p + "attn_q.bias", g.uniform(q_dim, -0.1f, 0.1f));
            vec(p + "attn_k.bias", g.uniform(kv_dim, -0.1f, 0.1f));
            vec(p + "attn_v.bias", g.uniform(kv_dim, -0.1f, 0.1f));
        }
        if (arch->output_bias) vec(p + "attn_output.bias", g.uniform(s.d_model, -0.1f, 0.1f));
        // Sink logits about as large as the attention scores, so they take a real share.
        if (arch->attention_sinks) vec(p + "attn_sinks.weight", g.uniform(s.n_heads, -1.0f, 1.0f));
        if (arch->qk_norm == QkNorm::PerHead) {
            norm(p + "attn_q_norm.weight", s.head_dim);
            norm(p + "attn_k_norm.weight", s.head_dim);
        } else if (arch->qk_norm == QkNorm::Whole) {
            norm(p + "attn_q_norm.weight", q_dim);
            norm(p + "attn_k_norm.weight", kv_dim);
        }
        norm(p + std::string(arch->moe_norm) + ".weight", s.d_model);
        // Router logits a few units apart, as trained routers give, so top-k is rarely a near-tie.
        float rb = 2.0f * std::sqrt(3.0f / float(s.d_model));
        w.add_tensor(p + "ffn_gate_inp.weight", {s.d_model, s.n_experts}, quant::GgmlType::F32,
                     f32_bytes(g.uniform(size_t(s.n_experts) * s.d_model, -rb, rb)));
        if (arch->router_bias) vec(p + "ffn_gate_inp.bias", g.uniform(s.n_experts, -0.5f, 0.5f));
        experts(p + "ffn_gate_exps.weight", s.gate_up_format, s.d_ff, s.d_model);
        experts(p + "ffn_up_exps.weight", s.gate_up_format, s.d_ff, s.d_model);
        experts(p + "ffn_down_exps.weight", s.down_format, s.d_model, s.d_ff);
        if (arch->expert_biases) {
            auto bias = [&](const std::string& name, uint32_t n) {
                w.add_tensor(name, {n, s.n_experts}, quant::GgmlType::F32,
                             f32_bytes(g.uniform(size_t(n) * s.n_experts, -0.5f, 0.5f)));
            };
            bias(p + "ffn_gate_exps.bias", s.d_ff);
            bias(p + "ffn_up_exps.bias", s.d_ff);
            bias(p + "ffn_down_exps.bias", s.d_model);
        }
        if (arch->shared_expert) {
            matrix(p + "ffn_gate_shexp.weight", s.gate_up_format, s.d_ff_shared, s.d_model);
            matrix(p + "ffn_up_shexp.weight", s.gate_up_format, s.d_ff_shared, s.d_model);
            matrix(p + "ffn_down_shexp.weight", s.down_format, s.d_model, s.d_ff_shared);
            vec(p + "ffn_gate_inp_shexp.weight", g.weights(1, s.d_model));
        }
    }
    return w;
}

uint32_t vocabulary_size(const gguf::File& from) {
    const gguf::Value* tokens = from.find("tokenizer.ggml.tokens");
    const auto* array = tokens ? std::get_if<gguf::Array>(&tokens->data) : nullptr;
    if (!array || array->element_type != gguf::ValueType::String || array->items.empty())
        throw Error(ErrorCode::BadFile, from.path() + ": no tokenizer.ggml.tokens to take a vocabulary from");
    return static_cast<uint32_t>(array->items.size());
}

void add_vocabulary(gguf::Writer& w, const gguf::File& from) {
    vocabulary_size(from);  // refuses a file without tokens
    for (const auto& [key, value] : from.metadata())
        if (key.starts_with("tokenizer.")) w.set(key, value);
}

}  // namespace moevk::model
