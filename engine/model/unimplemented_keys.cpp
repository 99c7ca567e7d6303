#include "model/unimplemented_keys.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "gguf/printable.h"
#include "gpu/error.h"

namespace moevk::model {
namespace {

// The values of a numeric key that leave the forward pass as moe-vk computes it.
enum class Leaves { Zero, One, ZeroOrOne };

struct NumericKey {
    const char* key;  // after "<arch>."
    Leaves leaves;
};

// The keys llama.cpp's hyper-parameter loading reads for these families (and the generic
// ones every family reads) that moe-vk has no kernel for. 0 stands for "not set" where
// llama.cpp reads it so.
constexpr NumericKey kNumericKeys[] = {
    // DeepSeek-V2's YaRN magnitude correction.
    {"rope.scaling.yarn_log_multiplier", Leaves::Zero},
    // tanh soft-capping of attention scores and of the logits (Gemma-2 style).
    {"attn_logit_softcapping", Leaves::Zero},
    {"final_logit_softcapping", Leaves::Zero},
    // Scales of the logits, the embedding and the residual branches (Granite, Cohere).
    {"logit_scale", Leaves::ZeroOrOne},
    {"embedding_scale", Leaves::ZeroOrOne},
    {"residual_scale", Leaves::ZeroOrOne},
    {"attention.clamp_kqv", Leaves::Zero},      // q, k, v clamped to +-N (DBRX, OLMo)
    {"expert_group_count", Leaves::ZeroOrOne},  // top-k within groups of experts (DeepSeek-V3)
};

bool leaves_alone(Leaves l, double v) {
    switch (l) {
        case Leaves::Zero:
            return v == 0.0;
        case Leaves::One:
            return v == 1.0;
        case Leaves::ZeroOrOne:
            return v == 0.0 || v == 1.0;
    }
    return false;
}

const char* wanted(Leaves l) {
    switch (l) {
        case Leaves::Zero:
            return "0";
        case Leaves::One:
            return "1";
        case Leaves::ZeroOrOne:
            return "0 or 1";
    }
    return "?";
}

[[noreturn]] void refuse(const gguf::File& file, const std::string& key, const std::string& value,
                         const std::string& runs) {
    throw Error(ErrorCode::Unsupported,
                file.path() + ": " + key + " = " + value +
                    " changes the numerics, and moe-vk does not implement it (it runs " + runs +
                    ")");
}

}  // namespace

void refuse_unimplemented_keys(const gguf::File& file, const ModelConfig& config) {
    const std::string prefix = config.architecture + ".";
    // RoPE scaling: none, linear and YaRN are read into config.rope_scaling.
    const std::string type_key = prefix + "rope.scaling.type";
    if (auto type = file.get_string(type_key); type && *type != "none" && *type != "linear" && *type != "yarn")
        refuse(file, type_key, gguf::quote(*type), "'none', 'linear' or 'yarn'");
    // Attention over the last N positions only, where the family has no sliding-window layers
    // (Mistral-style, every layer).
    if (config.sliding_layers.empty())
        if (auto v = file.get_float(prefix + "attention.sliding_window"); v && *v != 0.0)
            refuse(file, prefix + "attention.sliding_window", gguf::number_text(*v), "0, full attention");
    for (const NumericKey& k : kNumericKeys) {
        const std::string key = prefix + k.key;
        if (auto v = file.get_float(key); v && !leaves_alone(k.leaves, *v))
            refuse(file, key, gguf::number_text(*v), wanted(k.leaves));
    }
    // Bidirectional attention (encoders).
    if (auto causal = file.get_bool(prefix + "attention.causal"); causal && !*causal)
        refuse(file, prefix + "attention.causal", "false", "true");
    // The softmax scale of the attention scores; moe-vk uses 1/sqrt(head_dim).
    const double scale = 1.0 / std::sqrt(double(config.head_dim));
    if (auto v = file.get_float(prefix + "attention.scale");
        v && *v != 0.0 && std::abs(*v - scale) > 1e-6 * scale)
        refuse(file, prefix + "attention.scale", gguf::number_text(*v),
               "0 or 1/sqrt(head_dim) = " + gguf::number_text(scale));
}

}  // namespace moevk::model
