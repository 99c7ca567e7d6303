#include "runtime/reference_model.h"

#include <cmath>
#include <string>

#include "gpu/error.h"
#include "moe/reference.h"
#include "runtime/attention_params.h"
#include "runtime/reference_ops.h"

namespace moevk::runtime::ref {
namespace {

std::vector<float> dequantize(const model::Matrix& m) {
    return quant::decode_matrix(m.format, std::vector<uint8_t>(m.bytes.begin(), m.bytes.end()), m.rows, m.row_len);
}

std::vector<double> linear_of(const std::vector<double>& x, size_t tokens, const model::Matrix& m) {
    std::vector<float> w = dequantize(m);
    return linear(x, tokens, w, m.row_len, m.rows);
}

void add_bias(std::vector<double>& x, std::span<const float> bias) {
    if (bias.empty()) return;
    for (size_t i = 0; i < x.size(); ++i) x[i] += bias[i % bias.size()];
}

moe::DenseExpert dense_expert(const moe::ExpertView& v, const moe::ExpertFormats& f, uint32_t d, uint32_t ff) {
    auto bytes = [](std::span<const uint8_t> s) { return std::vector<uint8_t>(s.begin(), s.end()); };
    moe::DenseExpert e;
    e.d_ff = ff;
    e.gate = quant::decode_matrix(f.gate_up, bytes(v.gate), ff, d);
    e.up = quant::decode_matrix(f.gate_up, bytes(v.up), ff, d);
    e.down = quant::decode_matrix(f.down, bytes(v.down), d, ff);
    return e;
}

// The MoE block through the MoE layer's own reference (which reads f32 activations).
moe::reference::LayerResult moe_block(const std::vector<double>& h, uint32_t tokens, const moe::MoeWeightsView& v) {
    const moe::MoeConfig& c = v.config;
    moe::MoeWeights w;
    w.config = c;
    w.router.assign(v.router.begin(), v.router.end());
    w.selection_bias.assign(v.selection_bias.begin(), v.selection_bias.end());
    w.shared_gate.assign(v.shared_gate.begin(), v.shared_gate.end());
    w.router_bias.assign(v.router_bias.begin(), v.router_bias.end());
    std::vector<moe::DenseExpert> dense;
    for (uint32_t e = 0; e < c.n_experts; ++e) {
        dense.push_back(dense_expert(v.experts[e], v.formats, c.d_model, c.d_ff));
        moe::attach_biases(dense.back(), v, e);
    }
    moe::DenseExpert shared;
    if (c.d_ff_shared) {
        shared = dense_expert(v.shared, v.shared_formats, c.d_model, c.d_ff_shared);
        shared.activation = c.activation;
    }
    std::vector<float> x(h.begin(), h.end());
    return moe::reference::layer(x, tokens, w, dense, c.d_ff_shared ? &shared : nullptr);
}

}  // namespace

ForwardResult forward(const model::ModelFile& model, std::span<const uint32_t> tokens) {
    const model::ModelConfig& c = model.config();
    const model::ModelWeights& w = model.weights();
    const size_t T = tokens.size(), d = c.d_model;

    std::vector<float> embd = dequantize(w.token_embd);
    std::vector<double> x(T * d);
    for (size_t t = 0; t < T; ++t) {
        if (tokens[t] >= c.n_vocab)
            throw Error(ErrorCode::InvalidArgument, "token id " + std::to_string(tokens[t]) +
                                                        " is outside the vocabulary of " + std::to_string(c.n_vocab));
        for (size_t i = 0; i < d; ++i) x[t * d + i] = embd[size_t(tokens[t]) * d + i];
    }

    ForwardResult result;
    for (uint32_t i = 0; i < c.n_layers; ++i) {
        const model::LayerWeights& l = w.layers[i];
        const AttentionParams a = attention_params(c, i);
        std::vector<double> h = x;
        rmsnorm(h, T, d, l.attn_norm, c.rms_eps);
        std::vector<double> q = linear_of(h, T, l.wq), k = linear_of(h, T, l.wk), v = linear_of(h, T, l.wv);
        add_bias(q, l.q_bias);
        add_bias(k, l.k_bias);
        add_bias(v, l.v_bias);
        if (c.qk_norm == model::QkNorm::PerHead) {
            rmsnorm(q, T * c.n_heads, c.head_dim, l.q_norm, c.rms_eps);
            rmsnorm(k, T * c.n_kv_heads, c.head_dim, l.k_norm, c.rms_eps);
        } else if (c.qk_norm == model::QkNorm::Whole) {
            rmsnorm(q, T, c.q_dim(), l.q_norm, c.rms_eps);
            rmsnorm(k, T, c.kv_dim(), l.k_norm, c.rms_eps);
        }
        rope(q, T, c.n_heads, c.head_dim, a.n_rot, 0, a.rope_base, a.neox, a.rope_scaling);
        rope(k, T, c.n_kv_heads, c.head_dim, a.n_rot, 0, a.rope_base, a.neox, a.rope_scaling);
        std::vector<double> att = attention(q, k, v, T, 0, c.n_heads, c.n_kv_heads, c.head_dim,
                                            1.0 / std::sqrt(double(c.head_dim)), a.window, l.sinks);
        std::vector<double> o = linear_of(att, T, l.wo);
        add_bias(o, l.o_bias);
        for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];

        h = x;
        rmsnorm(h, T, d, l.ffn_norm, c.rms_eps);
        moe::reference::LayerResult r = moe_block(h, static_cast<uint32_t>(T), l.moe);
        for (size_t i = 0; i < x.size(); ++i) x[i] += r.out[i];
        result.experts.push_back(r.routing.ids);
        result.routing_margin.push_back(r.routing.margin);
    }
    rmsnorm(x, T, d, w.output_norm, c.rms_eps);
    result.logits = linear_of(x, T, w.output);
    return result;
}

}  // namespace moevk::runtime::ref
