#include "model/architecture.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <string>

#include "gpu/error.h"
#include "model/unimplemented_keys.h"
#include "gguf/printable.h"

namespace moevk::model {
namespace {

// Facts from llama.cpp's model table (rope type per architecture, norm_w and the gating in
// build_moe_ffn, the tensors each family's loader creates).
constexpr std::array kArchitectures{
    // Mixtral files say "llama" and carry experts.
    Architecture{.name = "llama", .renormalize = true},
    Architecture{.name = "qwen3moe", .rope = RopeOrdering::NeoX, .qk_norm = QkNorm::PerHead, .renormalize = true},
    Architecture{.name = "qwen2moe", .rope = RopeOrdering::NeoX, .qkv_bias = true, .shared_expert = true},
    Architecture{.name = "olmoe", .rope = RopeOrdering::NeoX, .qk_norm = QkNorm::Whole},
    // llama.cpp's LLM_ARCH_OPENAI_MOE (src/models/openai-moe.cpp).
    Architecture{.name = "gpt-oss",
                 .rope = RopeOrdering::NeoX,
                 .qkv_bias = true,
                 .output_bias = true,
                 .attention_sinks = true,
                 .sliding_window_pattern = 2,
                 .moe_norm = "post_attention_norm",
                 .gating = moe::Gating::SoftmaxSelected,
                 .fixed_gating = true,
                 .router_bias = true,
                 .expert_biases = true,
                 .activation = moe::Activation::SwiGluClamped},
};

class Keys {
public:
    Keys(const gguf::File& file, std::string_view arch) : file_(file), prefix_(std::string(arch) + ".") {}

    uint32_t require(const char* key, uint32_t lo, uint32_t hi) const {
        auto v = get(key);
        if (!v) throw Error(ErrorCode::BadFile, file_.path() + ": missing metadata key " + prefix_ + key);
        return check(key, *v, lo, hi);
    }
    uint32_t optional(const char* key, uint32_t fallback, uint32_t lo, uint32_t hi) const {
        auto v = get(key);
        return v ? check(key, *v, lo, hi) : fallback;
    }
    float real(const char* key, float fallback) const {
        auto v = file_.get_float(prefix_ + key);
        return v ? static_cast<float>(*v) : fallback;
    }
    bool flag(const char* key, bool fallback) const {
        auto v = file_.get_bool(prefix_ + key);
        return v ? *v : fallback;
    }
    std::optional<uint64_t> get(const char* key) const { return file_.get_uint(prefix_ + key); }

private:
    uint32_t check(const char* key, uint64_t v, uint32_t lo, uint32_t hi) const {
        if (v < lo || v > hi)
            throw Error(ErrorCode::BadFile, file_.path() + ": " + prefix_ + key + " = " + std::to_string(v) +
                                                " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
        return static_cast<uint32_t>(v);
    }
    const gguf::File& file_;
    std::string prefix_;
};

// rope.scaling.*: none, linear or YaRN (the others, e.g. longrope, are refused later by
// refuse_unimplemented_keys).
RopeScaling read_rope_scaling(const gguf::File& file, const Keys& k, const std::string& arch, uint32_t n_ctx_train) {
    RopeScaling r;
    std::string type = file.get_string(arch + ".rope.scaling.type").value_or("linear");
    float factor = k.real("rope.scaling.factor", 0.0f);
    if (factor == 0.0f) factor = k.real("rope.scale_linear", 0.0f);
    if (factor == 0.0f) factor = 1.0f;  // 0 is written for "not set"
    if (!(factor > 0.0f) || !std::isfinite(factor))
        throw Error(ErrorCode::BadFile, file.path() + ": " + arch + ".rope.scaling.factor = " + gguf::number_text(factor) +
                                            " is not a positive number");
    r.factor = factor;
    r.attn_factor = k.real("rope.scaling.attn_factor", 1.0f);
    if (!(r.attn_factor > 0.0f) || !std::isfinite(r.attn_factor))
        throw Error(ErrorCode::BadFile, file.path() + ": " + arch + ".rope.scaling.attn_factor = " +
                                            gguf::number_text(r.attn_factor) + " is not a positive number");
    r.original_context = k.optional("rope.scaling.original_context_length", n_ctx_train, 1, 1u << 24);
    if (type == "yarn") r.kind = RopeScalingKind::Yarn;
    else if (type == "linear" && factor != 1.0f) r.kind = RopeScalingKind::Linear;
    return r;
}

// The sliding window and which layers use it: attention.sliding_window_pattern as a per-layer
// bool array, or as the period n (layer i slides when i % n < n - 1), or the family's default n.
void read_sliding_window(const gguf::File& file, const Keys& k, const std::string& arch, uint32_t default_pattern,
                         ModelConfig& c) {
    c.sliding_window = k.require("attention.sliding_window", 1, 1u << 24);
    const std::string key = arch + ".attention.sliding_window_pattern";
    const gguf::Value* v = file.find(key);
    const auto* array = v ? std::get_if<gguf::Array>(&v->data) : nullptr;
    c.sliding_layers.assign(c.n_layers, false);
    if (array) {
        if (array->element_type != gguf::ValueType::Bool || array->items.size() != c.n_layers)
            throw Error(ErrorCode::BadFile, file.path() + ": " + key + " must be an array of " +
                                                std::to_string(c.n_layers) + " booleans (one per layer)");
        for (uint32_t i = 0; i < c.n_layers; ++i) c.sliding_layers[i] = std::get<bool>(array->items[i].data);
        return;
    }
    uint32_t n = k.optional("attention.sliding_window_pattern", default_pattern, 0, 1u << 16);
    for (uint32_t i = 0; i < c.n_layers; ++i) c.sliding_layers[i] = n == 0 || i % n < n - 1;
}

}  // namespace

std::span<const Architecture> architectures() { return kArchitectures; }

const Architecture* find_architecture(std::string_view name) {
    for (const Architecture& a : kArchitectures)
        if (a.name == name) return &a;
    return nullptr;
}

ModelConfig read_config(const gguf::File& file) {
    std::string arch_name = file.require_string("general.architecture");
    const Architecture* arch = find_architecture(arch_name);
    if (!arch) {
        std::string known;
        for (const Architecture& a : kArchitectures) known += (known.empty() ? "" : ", ") + std::string(a.name);
        throw Error(ErrorCode::Unsupported, file.path() + ": architecture " + gguf::quote(arch_name) +
                                                " is not supported (supported: " + known + ")");
    }
    Keys k(file, arch_name);
    constexpr uint32_t kBig = 1u << 20;
    ModelConfig c;
    c.architecture = arch_name;
    c.rope = arch->rope;
    c.qk_norm = arch->qk_norm;
    c.qkv_bias = arch->qkv_bias;
    c.output_bias = arch->output_bias;
    c.attention_sinks = arch->attention_sinks;
    c.moe_norm = arch->moe_norm;
    c.n_layers = k.require("block_count", 1, 4096);
    c.d_model = k.require("embedding_length", 1, kBig);
    c.n_heads = k.require("attention.head_count", 1, 4096);
    c.n_kv_heads = k.optional("attention.head_count_kv", c.n_heads, 1, c.n_heads);
    if (c.n_heads % c.n_kv_heads != 0)
        throw Error(ErrorCode::BadFile, file.path() + ": " + arch_name + ".attention.head_count " +
                                            std::to_string(c.n_heads) + " is not a multiple of head_count_kv " +
                                            std::to_string(c.n_kv_heads));
    uint32_t default_head_dim = c.d_model % c.n_heads == 0 ? c.d_model / c.n_heads : 0;
    c.head_dim = k.optional("attention.key_length", default_head_dim, 1, 1024);
    if (c.head_dim == 0)
        throw Error(ErrorCode::BadFile, file.path() + ": missing metadata key " + arch_name + ".attention.key_length");
    uint32_t v_dim = k.optional("attention.value_length", c.head_dim, 1, 1024);
    if (v_dim != c.head_dim)
        throw Error(ErrorCode::Unsupported, file.path() + ": " + arch_name + ".attention.value_length " +
                                                std::to_string(v_dim) + " differs from key_length " +
                                                std::to_string(c.head_dim));
    c.n_rot = k.optional("rope.dimension_count", c.head_dim, 2, c.head_dim);
    if (c.n_rot % 2 != 0)
        throw Error(ErrorCode::BadFile, file.path() + ": " + arch_name + ".rope.dimension_count " +
                                            std::to_string(c.n_rot) + " is odd");
    c.rope_base = k.real("rope.freq_base", 10000.0f);
    c.rope_base_sliding = k.real("rope.freq_base_swa", c.rope_base);
    c.rms_eps = k.real("attention.layer_norm_rms_epsilon", 1e-5f);
    c.n_ctx_train = k.optional("context_length", 4096, 1, 1u << 24);
    c.rope_scaling = read_rope_scaling(file, k, arch_name, c.n_ctx_train);
    if (arch->sliding_window_pattern) read_sliding_window(file, k, arch_name, arch->sliding_window_pattern, c);
    // vocab_size is optional in files; the token embedding's shape is checked against it later.
    c.n_vocab = k.optional("vocab_size", 0, 0, 1u << 24);
    if (c.n_vocab == 0)
        if (auto tokens = file.get_strings("tokenizer.ggml.tokens")) c.n_vocab = static_cast<uint32_t>(tokens->size());

    moe::MoeConfig& m = c.moe;
    m.d_model = c.d_model;
    m.n_experts = k.require("expert_count", 1, 256);
    m.top_k = k.require("expert_used_count", 1, 16);
    // The experts' width; files without expert_feed_forward_length (Mixtral's) give it as the
    // dense feed_forward_length.
    if (k.get("expert_feed_forward_length")) {
        m.d_ff = k.require("expert_feed_forward_length", 1, kBig);
    } else if (auto dense = k.get("feed_forward_length")) {
        if (*dense == 0)
            throw Error(ErrorCode::BadFile, file.path() + ": " + arch_name + ".feed_forward_length = 0 (the experts' " +
                                                "width, as the file has no " + arch_name +
                                                ".expert_feed_forward_length) must be at least 1");
        m.d_ff = k.require("feed_forward_length", 1, kBig);
    } else {
        throw Error(ErrorCode::BadFile, file.path() + ": missing metadata key " + arch_name +
                                            ".expert_feed_forward_length (nor is there a " + arch_name +
                                            ".feed_forward_length)");
    }
    if (arch->shared_expert) {
        m.d_ff_shared = k.require("expert_shared_feed_forward_length", 1, kBig);
        m.shared_gated = true;
    }
    m.gating = arch->gating;
    if (auto g = arch->fixed_gating ? std::nullopt : k.get("expert_gating_func")) {
        // llama.cpp: 1 = softmax, 2 = sigmoid, 3 = softmax over the selected (0: the default)
        if (*g == 1) m.gating = moe::Gating::Softmax;
        else if (*g == 2) m.gating = moe::Gating::Sigmoid;
        else if (*g == 3) m.gating = moe::Gating::SoftmaxSelected;
        else if (*g != 0)
            throw Error(ErrorCode::Unsupported, file.path() + ": " + arch_name + ".expert_gating_func " +
                                                    std::to_string(*g) +
                                                    " is not softmax (1), sigmoid (2) or softmax-weight (3)");
    }
    m.router_bias = arch->router_bias;
    m.expert_biases = arch->expert_biases;
    m.activation = arch->activation;
    m.renormalize = k.flag("expert_weights_norm", arch->renormalize);
    m.weight_scale = k.real("expert_weights_scale", 1.0f);
    if (m.weight_scale == 0.0f) m.weight_scale = 1.0f;  // written as 0 when unused
    try {
        moe::validate(m);
    } catch (const Error& e) {
        throw Error(ErrorCode::BadFile, file.path() + ": " + e.what());
    }
    refuse_unimplemented_keys(file, c);
    return c;
}

std::string describe(const ModelConfig& c) {
    return c.architecture + ": " + std::to_string(c.n_layers) + " layers, d " + std::to_string(c.d_model) + ", " +
           std::to_string(c.n_heads) + " heads / " + std::to_string(c.n_kv_heads) + " KV heads of " +
           std::to_string(c.head_dim) + ", vocabulary " + std::to_string(c.n_vocab) + ", " +
           std::to_string(c.moe.n_experts) + " experts of " + std::to_string(c.moe.d_ff) + ", top-" +
           std::to_string(c.moe.top_k) +
           (c.moe.d_ff_shared ? ", shared expert of " + std::to_string(c.moe.d_ff_shared) : std::string());
}

}  // namespace moevk::model
