#include "model/model_file.h"

#include <cstdint>
#include <string>

#include "gpu/error.h"
#include "gguf/printable.h"
#include "model/architecture.h"
#include "quant/ggml_types.h"

namespace moevk::model {
namespace {

std::string dims_text(const std::vector<uint64_t>& dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

class TensorBinder {
public:
    explicit TensorBinder(const gguf::File& file) : file_(file) {}

    const gguf::TensorInfo* find(const std::string& name) const { return file_.find_tensor(name); }

    const gguf::TensorInfo& require(const std::string& name, const std::vector<uint64_t>& dims) const {
        const gguf::TensorInfo* t = find(name);
        if (!t) throw Error(ErrorCode::BadFile, file_.path() + ": tensor " + gguf::quote(name) + " is missing");
        if (t->dims != dims)
            throw Error(ErrorCode::BadFile, file_.path() + ": tensor " + gguf::quote(name) + " has shape " + dims_text(t->dims) +
                                                ", the metadata implies " + dims_text(dims));
        return *t;
    }

    std::span<const float> f32(const std::string& name, const std::vector<uint64_t>& dims) const {
        return as_f32(require(name, dims));
    }
    std::span<const float> optional_f32(const std::string& name, const std::vector<uint64_t>& dims) const {
        return find(name) ? f32(name, dims) : std::span<const float>{};
    }

    quant::WeightFormat format(const gguf::TensorInfo& t) const {
        auto info = quant::ggml_type_info(static_cast<uint32_t>(t.type));
        auto f = quant::to_weight_format(t.type);
        if (!f)
            throw Error(ErrorCode::Unsupported, file_.path() + ": tensor " + gguf::quote(t.name) + " has type " +
                                                    (info ? info->name : "?") + ", which moe-vk does not read");
        return *f;
    }

    Matrix matrix(const std::string& name, uint32_t rows, uint32_t row_len) const {
        const gguf::TensorInfo& t = require(name, {row_len, rows});
        return Matrix{name, format(t), rows, row_len, t.data};
    }

private:
    std::span<const float> as_f32(const gguf::TensorInfo& t) const {
        if (t.type != quant::GgmlType::F32) {
            auto info = quant::ggml_type_info(static_cast<uint32_t>(t.type));
            throw Error(ErrorCode::Unsupported, file_.path() + ": tensor " + gguf::quote(t.name) + " has type " +
                                                    (info ? info->name : "?") + "; moe-vk reads it as f32 only");
        }
        // Read in place as floats: general.alignment 1 or 2 lets a tensor start anywhere.
        if (reinterpret_cast<uintptr_t>(t.data.data()) % alignof(float) != 0)
            throw Error(ErrorCode::BadFile,
                        file_.path() + ": tensor '" + t.name + "' starts at offset " +
                            std::to_string(t.offset) +
                            ", which is not 4-byte aligned (general.alignment " +
                            std::to_string(file_.alignment()) + "); f32 tensors must be");
        return {reinterpret_cast<const float*>(t.data.data()), t.data.size() / 4};
    }
    const gguf::File& file_;
};

// Splits a [n_experts][rows][row_len] tensor into one byte range per expert.
std::vector<std::span<const uint8_t>> per_expert(const gguf::TensorInfo& t, uint32_t n_experts) {
    std::vector<std::span<const uint8_t>> parts;
    size_t each = t.data.size() / n_experts;
    for (uint32_t e = 0; e < n_experts; ++e) parts.push_back(t.data.subspan(e * each, each));
    return parts;
}

// gate and up run fused in one kernel, which reads one format.
void check_gate_up(const std::string& path, const gguf::TensorInfo& g, const gguf::TensorInfo& u) {
    if (g.type != u.type)
        throw Error(ErrorCode::Unsupported, path + ": tensors " + gguf::quote(g.name) + " and " + gguf::quote(u.name) +
                                                " have different types; moe-vk needs gate and up alike");
}

// The routed experts merged, one [n_experts][rows][row_len] tensor per matrix
// (ffn_{gate,up,down}_exps): each expert is one byte range of each.
void bind_merged_experts(const TensorBinder& b, const moe::MoeConfig& m, const std::string& p,
                         const std::string& path, moe::MoeWeightsView& v) {
    const auto& gate = b.require(p + "ffn_gate_exps.weight", {m.d_model, m.d_ff, m.n_experts});
    const auto& up = b.require(p + "ffn_up_exps.weight", {m.d_model, m.d_ff, m.n_experts});
    const auto& down = b.require(p + "ffn_down_exps.weight", {m.d_ff, m.d_model, m.n_experts});
    check_gate_up(path, gate, up);
    v.formats = {b.format(gate), b.format(down)};
    auto g = per_expert(gate, m.n_experts), u = per_expert(up, m.n_experts), d = per_expert(down, m.n_experts);
    for (uint32_t e = 0; e < m.n_experts; ++e) v.experts.push_back({g[e], u[e], d[e]});
}

// The older layout many published Mixtral files have: one tensor per expert and matrix,
// ffn_{gate,up,down}.E.weight. Each expert binds to its own three tensors (the expert cache
// pages an expert's three ranges as a unit wherever they lie); the kernels read one format per
// layer, so every expert must have expert 0's.
void bind_split_experts(const TensorBinder& b, const moe::MoeConfig& m, const std::string& p,
                        const std::string& path, moe::MoeWeightsView& v) {
    const gguf::TensorInfo* first[2] = {nullptr, nullptr};  // expert 0's gate and down
    for (uint32_t e = 0; e < m.n_experts; ++e) {
        std::string suffix = std::to_string(e);  // built in place: GCC 12 warns on "." + to_string
        suffix.insert(0, 1, '.').append(".weight");
        const auto& gate = b.require(p + "ffn_gate" + suffix, {m.d_model, m.d_ff});
        const auto& up = b.require(p + "ffn_up" + suffix, {m.d_model, m.d_ff});
        const auto& down = b.require(p + "ffn_down" + suffix, {m.d_ff, m.d_model});
        check_gate_up(path, gate, up);
        if (e == 0) {
            first[0] = &gate;
            first[1] = &down;
            v.formats = {b.format(gate), b.format(down)};
        }
        for (auto [t, ref] : {std::pair{&gate, first[0]}, std::pair{&down, first[1]}})
            if (t->type != ref->type)
                throw Error(ErrorCode::Unsupported, path + ": tensors " + gguf::quote(ref->name) + " and " +
                                                        gguf::quote(t->name) +
                                                        " have different types; moe-vk needs one per layer");
        v.experts.push_back({gate.data, up.data, down.data});
    }
}

moe::MoeWeightsView bind_moe(const TensorBinder& b, const ModelConfig& c, const std::string& p,
                             const std::string& path) {
    const moe::MoeConfig& m = c.moe;
    moe::MoeWeightsView v;
    v.config = m;
    v.router = b.f32(p + "ffn_gate_inp.weight", {m.d_model, m.n_experts});
    if (!b.find(p + "ffn_gate_exps.weight") && b.find(p + "ffn_gate.0.weight"))
        bind_split_experts(b, m, p, path, v);
    else
        bind_merged_experts(b, m, p, path, v);
    if (m.router_bias) v.router_bias = b.f32(p + "ffn_gate_inp.bias", {m.n_experts});
    if (m.expert_biases) {
        v.gate_bias = b.f32(p + "ffn_gate_exps.bias", {m.d_ff, m.n_experts});
        v.up_bias = b.f32(p + "ffn_up_exps.bias", {m.d_ff, m.n_experts});
        v.down_bias = b.f32(p + "ffn_down_exps.bias", {m.d_model, m.n_experts});
    }
    if (m.d_ff_shared) {
        const auto& sg = b.require(p + "ffn_gate_shexp.weight", {m.d_model, m.d_ff_shared});
        const auto& su = b.require(p + "ffn_up_shexp.weight", {m.d_model, m.d_ff_shared});
        const auto& sd = b.require(p + "ffn_down_shexp.weight", {m.d_ff_shared, m.d_model});
        check_gate_up(path, sg, su);
        v.shared_formats = {b.format(sg), b.format(sd)};
        v.shared = {sg.data, su.data, sd.data};
        if (m.shared_gated) v.shared_gate = b.f32(p + "ffn_gate_inp_shexp.weight", {m.d_model});
    }
    return v;
}

// Every row of the embedding (and so every logit) must be a token of the vocabulary and every
// token a row: a shorter vocabulary loads and fails only when a sampled id lands past it.
void check_vocabulary_size(const gguf::File& f, const gguf::TensorInfo& embd) {
    const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
    if (!tokens || tokens->type != gguf::ValueType::Array || embd.dims.size() != 2) return;
    const uint64_t n_tokens = std::get<gguf::Array>(tokens->data).items.size();
    if (n_tokens != embd.dims[1])
        throw Error(ErrorCode::BadFile, f.path() + ": the vocabulary (tokenizer.ggml.tokens) has " +
                                            std::to_string(n_tokens) + " tokens, the token embedding " +
                                            gguf::quote(embd.name) + " has " + std::to_string(embd.dims[1]) +
                                            " rows");
}

}  // namespace

ModelFile ModelFile::open(const std::string& path) { return from(gguf::File::open(path)); }

ModelFile ModelFile::from(gguf::File file) {
    ModelFile mf(std::move(file));
    const gguf::File& f = mf.file_;
    ModelConfig& c = mf.config_;
    c = read_config(f);
    TensorBinder b(f);
    ModelWeights& w = mf.weights_;

    const gguf::TensorInfo* embd = b.find("token_embd.weight");
    if (!embd) throw Error(ErrorCode::BadFile, f.path() + ": tensor " + gguf::quote("token_embd.weight") + " is missing");
    if (c.n_vocab == 0 && embd->dims.size() == 2) c.n_vocab = static_cast<uint32_t>(embd->dims[1]);
    check_vocabulary_size(f, *embd);
    w.token_embd = b.matrix("token_embd.weight", c.n_vocab, c.d_model);
    w.output_norm = b.f32("output_norm.weight", {c.d_model});
    w.output = b.find("output.weight") ? b.matrix("output.weight", c.n_vocab, c.d_model) : w.token_embd;

    uint32_t q_norm_len = c.qk_norm == QkNorm::PerHead ? c.head_dim : c.q_dim();
    uint32_t k_norm_len = c.qk_norm == QkNorm::PerHead ? c.head_dim : c.kv_dim();
    for (uint32_t i = 0; i < c.n_layers; ++i) {
        std::string p = "blk." + std::to_string(i) + ".";
        LayerWeights l;
        l.attn_norm = b.f32(p + "attn_norm.weight", {c.d_model});
        l.wq = b.matrix(p + "attn_q.weight", c.q_dim(), c.d_model);
        l.wk = b.matrix(p + "attn_k.weight", c.kv_dim(), c.d_model);
        l.wv = b.matrix(p + "attn_v.weight", c.kv_dim(), c.d_model);
        l.wo = b.matrix(p + "attn_output.weight", c.d_model, c.q_dim());
        if (c.qkv_bias) {
            // Optional each, as llama.cpp loads them: Qwen2-MoE files converted without the
            // biases exist, and a missing bias is a zero one.
            l.q_bias = b.optional_f32(p + "attn_q.bias", {c.q_dim()});
            l.k_bias = b.optional_f32(p + "attn_k.bias", {c.kv_dim()});
            l.v_bias = b.optional_f32(p + "attn_v.bias", {c.kv_dim()});
        }
        if (c.output_bias) l.o_bias = b.f32(p + "attn_output.bias", {c.d_model});
        if (c.attention_sinks) l.sinks = b.f32(p + "attn_sinks.weight", {c.n_heads});
        if (c.qk_norm != QkNorm::None) {
            l.q_norm = b.f32(p + "attn_q_norm.weight", {q_norm_len});
            l.k_norm = b.f32(p + "attn_k_norm.weight", {k_norm_len});
        }
        l.ffn_norm = b.f32(p + c.moe_norm + ".weight", {c.d_model});
        l.moe = bind_moe(b, c, p, f.path());
        w.layers.push_back(std::move(l));
    }
    return mf;
}

uint64_t ModelFile::active_weight_bytes() const {
    const ModelConfig& c = config_;
    uint64_t bytes = weights_.output.bytes.size() + uint64_t(c.d_model) * 4;  // output and its norm
    bytes += quant::row_bytes(weights_.token_embd.format, c.d_model);          // one embedding row
    for (const LayerWeights& l : weights_.layers) {
        for (const Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo}) bytes += m->bytes.size();
        bytes += l.moe.router.size_bytes() + (l.attn_norm.size() + l.ffn_norm.size()) * 4;
        bytes += l.moe.router_bias.size_bytes() + l.o_bias.size_bytes() + l.sinks.size_bytes() +
                 (l.q_bias.size() + l.k_bias.size() + l.v_bias.size()) * 4;
        // The selected experts' biases.
        bytes += uint64_t(c.moe.top_k) * (l.moe.gate_bias.size() + l.moe.up_bias.size() + l.moe.down_bias.size()) *
                 4 / c.moe.n_experts;
        uint64_t expert = l.moe.experts.empty() ? 0
                                                : l.moe.experts[0].gate.size() + l.moe.experts[0].up.size() +
                                                      l.moe.experts[0].down.size();
        bytes += expert * c.moe.top_k;
        bytes += l.moe.shared.gate.size() + l.moe.shared.up.size() + l.moe.shared.down.size();
    }
    return bytes;
}

}  // namespace moevk::model
