// Model files that do not fit what the runtime needs, each written on purpose: an unknown
// architecture, a missing key or tensor, a shape that disagrees with the metadata, a tensor type
// moe-vk does not read. Each must fail with an error naming the file and the item. No GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "gguf/gguf.h"
#include "gpu/error.h"
#include "model/architecture.h"
#include "model/model_file.h"
#include "model/synthetic.h"
#include "quant/ggml_types.h"
#include "test_support.h"

namespace moevk::model {
namespace {

constexpr const char* kName = "broken.gguf";

SyntheticSpec small_spec(const char* arch = "llama") {
    SyntheticSpec s;
    s.architecture = arch;
    s.n_layers = 2;
    s.d_model = 256;
    s.n_heads = 4;
    s.n_kv_heads = 2;
    s.head_dim = 64;
    s.n_vocab = 50;
    s.n_experts = 4;
    s.top_k = 2;
    s.d_ff = 256;
    s.d_ff_shared = 256;
    return s;
}

// A copy of `file` with its metadata and tensors passed through the edits: an edit returns
// false to drop the item.
struct Edits {
    std::function<bool(std::string&, gguf::Value&)> metadata = [](std::string&, gguf::Value&) { return true; };
    std::function<bool(std::string&, std::vector<uint64_t>&, quant::GgmlType&, std::vector<uint8_t>&)> tensor =
        [](std::string&, std::vector<uint64_t>&, quant::GgmlType&, std::vector<uint8_t>&) { return true; };
};

std::vector<uint8_t> rewrite(const SyntheticSpec& spec, const Edits& edits) {
    std::vector<uint8_t> original = synthetic_model(spec).bytes();
    gguf::File file = gguf::File::parse(original, "original");
    gguf::Writer w;
    for (auto [key, value] : file.metadata())
        if (edits.metadata(key, value)) w.set(key, value);
    for (const gguf::TensorInfo& t : file.tensors()) {
        std::string name = t.name;
        std::vector<uint64_t> dims = t.dims;
        quant::GgmlType type = t.type;
        std::vector<uint8_t> data(t.data.begin(), t.data.end());
        if (edits.tensor(name, dims, type, data)) w.add_tensor(name, dims, type, std::move(data));
    }
    return w.bytes();
}

// Loading `bytes` fails with `code` and a message naming the file and each of `parts`.
void expect_error(const std::vector<uint8_t>& bytes, ErrorCode code, std::vector<std::string> parts) {
    parts.push_back(kName);
    test::expect_error([&] { ModelFile::from(gguf::File::parse(bytes, kName)); }, code, parts);
}

TEST(ModelFile, EveryArchitectureInTheTableLoads) {
    for (const Architecture& arch : architectures()) {
        SCOPED_TRACE(std::string(arch.name));
        std::vector<uint8_t> bytes = synthetic_model(small_spec(std::string(arch.name).c_str())).bytes();
        ModelFile m = ModelFile::from(gguf::File::parse(bytes, kName));
        EXPECT_EQ(m.config().architecture, arch.name);
        EXPECT_EQ(m.config().n_layers, 2u);
        EXPECT_EQ(m.weights().layers.size(), 2u);
        EXPECT_EQ(m.weights().layers[1].moe.experts.size(), 4u);
        EXPECT_EQ(m.config().moe.d_ff_shared, arch.shared_expert ? 256u : 0u);
        EXPECT_EQ(m.config().moe.renormalize, arch.renormalize);
    }
}

// llama.cpp loads qwen2moe's attn_{q,k,v}.bias as optional, each on its own: files without
// them (or without some) exist, and an absent bias is a zero one.
TEST(ModelFile, Qwen2MoeAttentionBiasesAreOptional) {
    SyntheticSpec s = small_spec("qwen2moe");
    s.qkv_bias = false;
    test::TempFile none("qwen2moe-no-bias.gguf", synthetic_model(s).bytes());
    ModelFile m = ModelFile::open(none.path());
    for (const LayerWeights& l : m.weights().layers) {
        EXPECT_TRUE(l.q_bias.empty());
        EXPECT_TRUE(l.k_bias.empty());
        EXPECT_TRUE(l.v_bias.empty());
    }
    Edits e;
    e.tensor = [](std::string& name, auto&, auto&, auto&) { return name != "blk.1.attn_k.bias"; };
    test::TempFile some("qwen2moe-some-bias.gguf", rewrite(small_spec("qwen2moe"), e));
    ModelFile partial = ModelFile::open(some.path());
    const LayerWeights& l1 = partial.weights().layers[1];
    EXPECT_EQ(l1.q_bias.size(), 256u);
    EXPECT_TRUE(l1.k_bias.empty());
    EXPECT_EQ(l1.v_bias.size(), 128u);
    EXPECT_EQ(partial.weights().layers[0].k_bias.size(), 128u);
}

// Many published Mixtral files keep one tensor per expert (blk.N.ffn_gate.E.weight): each
// expert binds to its own three tensors, holding the bytes the merged layout holds.
TEST(ModelFile, OneTensorPerExpertLoads) {
    SyntheticSpec s = small_spec();
    std::vector<uint8_t> merged_bytes = synthetic_model(s).bytes();
    ModelFile merged = ModelFile::from(gguf::File::parse(merged_bytes, kName));
    s.split_experts = true;
    test::TempFile split_file("split-experts.gguf", synthetic_model(s).bytes());
    ModelFile split = ModelFile::open(split_file.path());
    ASSERT_EQ(split.file().find_tensor("blk.0.ffn_gate_exps.weight"), nullptr);
    auto same = [](std::span<const uint8_t> a, std::span<const uint8_t> b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end());
    };
    for (uint32_t l = 0; l < 2; ++l) {
        const moe::MoeWeightsView& a = merged.weights().layers[l].moe;
        const moe::MoeWeightsView& b = split.weights().layers[l].moe;
        EXPECT_EQ(a.formats.gate_up, b.formats.gate_up);
        EXPECT_EQ(a.formats.down, b.formats.down);
        ASSERT_EQ(b.experts.size(), 4u);
        for (uint32_t e = 0; e < 4; ++e) {
            SCOPED_TRACE("layer " + std::to_string(l) + " expert " + std::to_string(e));
            const std::string p = "blk." + std::to_string(l) + ".ffn_";
            const std::string suffix = "." + std::to_string(e) + ".weight";
            EXPECT_EQ(b.experts[e].gate.data(), split.file().find_tensor(p + "gate" + suffix)->data.data());
            EXPECT_EQ(b.experts[e].up.data(), split.file().find_tensor(p + "up" + suffix)->data.data());
            EXPECT_EQ(b.experts[e].down.data(), split.file().find_tensor(p + "down" + suffix)->data.data());
            EXPECT_TRUE(same(a.experts[e].gate, b.experts[e].gate));
            EXPECT_TRUE(same(a.experts[e].up, b.experts[e].up));
            EXPECT_TRUE(same(a.experts[e].down, b.experts[e].down));
        }
    }
    EXPECT_EQ(split.active_weight_bytes(), merged.active_weight_bytes());
}

// gpt-oss files store the routed experts as ggml type 39 (MXFP4): they bind, each expert a
// byte range of 17 bytes per 32 values, the file's bytes in place.
TEST(ModelFile, Mxfp4ExpertsBind) {
    SyntheticSpec s = small_spec();
    s.gate_up_format = s.down_format = quant::WeightFormat::MXFP4;
    std::vector<uint8_t> bytes = synthetic_model(s).bytes();
    ModelFile m = ModelFile::from(gguf::File::parse(bytes, kName));
    const gguf::TensorInfo* gate = m.file().find_tensor("blk.1.ffn_gate_exps.weight");
    ASSERT_NE(gate, nullptr);
    EXPECT_EQ(static_cast<uint32_t>(gate->type), 39u);
    const moe::MoeWeightsView& v = m.weights().layers[1].moe;
    EXPECT_EQ(v.formats.gate_up, quant::WeightFormat::MXFP4);
    EXPECT_EQ(v.formats.down, quant::WeightFormat::MXFP4);
    ASSERT_EQ(v.experts.size(), 4u);
    for (uint32_t e = 0; e < 4; ++e) {
        // 256 rows of 256 / 32 blocks, the experts one after another.
        EXPECT_EQ(v.experts[e].gate.size(), 256u * 8 * 17);
        EXPECT_EQ(v.experts[e].down.size(), 256u * 8 * 17);
        EXPECT_EQ(v.experts[e].gate.data(), gate->data.data() + e * 256 * 8 * 17);
    }
}

TEST(ModelFile, OneTensorPerExpertNeedsEveryExpertInOneFormat) {
    SyntheticSpec s = small_spec();
    s.split_experts = true;
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, quant::GgmlType& type, std::vector<uint8_t>& data) {
        if (name == "blk.1.ffn_down.2.weight") {
            type = quant::GgmlType::F16;
            data.assign(dims[0] * dims[1] * 2, 0);
        }
        return true;
    };
    expect_error(rewrite(s, e), ErrorCode::Unsupported, {"blk.1.ffn_down.0.weight", "blk.1.ffn_down.2.weight"});
    e.tensor = [](std::string& name, auto&, auto&, auto&) { return name != "blk.0.ffn_up.3.weight"; };
    expect_error(rewrite(s, e), ErrorCode::BadFile, {"blk.0.ffn_up.3.weight", "missing"});
}

TEST(ModelFile, UnknownArchitecture) {
    Edits e;
    e.metadata = [](std::string& key, gguf::Value& v) {
        if (key == "general.architecture") v.data = std::string("mamba9");
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported, {"mamba9", "qwen3moe"});
}

TEST(ModelFile, ArchitectureNameIsEscaped) {
    Edits e;
    e.metadata = [](std::string& key, gguf::Value& v) {
        if (key == "general.architecture") v.data = std::string("evil\x1b]0;title\x07\0tail", 19);
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported,
                 {"'evil\\x1b]0;title\\x07\\x00tail'", "is not supported"});
}

TEST(ModelFile, MissingKey) {
    Edits e;
    e.metadata = [](std::string& key, gguf::Value&) { return key != "llama.expert_count"; };
    expect_error(rewrite(small_spec(), e), ErrorCode::BadFile, {"llama.expert_count"});
}

TEST(ModelFile, ValueOutOfRange) {
    Edits e;
    e.metadata = [](std::string& key, gguf::Value& v) {
        if (key == "llama.expert_used_count") v.data = uint64_t(9);  // more than the 4 experts
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::BadFile, {"top_k"});
}

// Mixtral files give the experts' width as feed_forward_length; a 0 there is the problem to
// name, not an expert_feed_forward_length the file never had.
TEST(ModelFile, ZeroFeedForwardLengthIsNamed) {
    Edits e;
    e.metadata = [](std::string& key, gguf::Value& v) {
        if (key == "llama.expert_feed_forward_length") {
            key = "llama.feed_forward_length";
            v.data = uint64_t(0);
        }
        return true;
    };
    std::vector<uint8_t> bytes = rewrite(small_spec(), e);
    expect_error(bytes, ErrorCode::BadFile, {"llama.feed_forward_length = 0", "at least 1"});
    try {
        ModelFile::from(gguf::File::parse(bytes, kName));
    } catch (const Error& err) {
        EXPECT_EQ(std::string(err.what()).find("missing"), std::string::npos) << err.what();
    }
    e.metadata = [](std::string& key, gguf::Value& v) {
        if (key == "llama.expert_feed_forward_length") {
            key = "llama.feed_forward_length";
            v.data = uint64_t(256);
        }
        return true;
    };
    EXPECT_EQ(ModelFile::from(gguf::File::parse(rewrite(small_spec(), e), kName)).config().moe.d_ff, 256u);
}

// A vocabulary shorter than the embedding's 50 rows would load and fail only when a sampled
// id lands past it; longer, tokenizing could give ids past the embedding. Both are refused.
TEST(ModelFile, VocabularyMustMatchTheEmbeddingRows) {
    for (uint32_t n : {40u, 60u}) {
        gguf::Writer w = synthetic_model(small_spec());
        std::vector<std::string> tokens;
        for (uint32_t i = 0; i < n; ++i) tokens.push_back(std::to_string(i));
        w.set_strings("tokenizer.ggml.tokens", tokens);
        test::TempFile file("vocab-" + std::to_string(n) + ".gguf", w.bytes());
        test::expect_error([&] { ModelFile::open(file.path()); }, ErrorCode::BadFile,
                           {file.path(), "tokenizer.ggml.tokens", "has " + std::to_string(n) + " tokens",
                            "token_embd.weight", "50 rows"});
    }
}

TEST(ModelFile, MissingTensor) {
    Edits e;
    e.tensor = [](std::string& name, auto&, auto&, auto&) { return name != "blk.1.ffn_down_exps.weight"; };
    expect_error(rewrite(small_spec(), e), ErrorCode::BadFile, {"blk.1.ffn_down_exps.weight", "missing"});
}

TEST(ModelFile, ShapeDisagreesWithMetadata) {
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, auto&, std::vector<uint8_t>& data) {
        if (name == "blk.0.attn_k.weight") {
            dims[1] /= 2;  // half the KV heads' rows
            data.resize(data.size() / 2);
        }
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::BadFile, {"blk.0.attn_k.weight", "[256, 64]", "[256, 128]"});
}

TEST(ModelFile, UnsupportedTensorType) {
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, quant::GgmlType& type, std::vector<uint8_t>& data) {
        if (name == "blk.0.attn_q.weight") {
            type = quant::GgmlType::IQ2_XXS;  // a real type no kernel here reads
            data.assign(dims[1] * (dims[0] / 256) * 66, 0);
        }
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported, {"blk.0.attn_q.weight", "iq2_xxs"});
}

TEST(ModelFile, GateAndUpMustShareAFormat) {
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, quant::GgmlType& type, std::vector<uint8_t>& data) {
        if (name == "blk.0.ffn_up_exps.weight") {
            type = quant::GgmlType::F16;
            data.assign(dims[0] * dims[1] * dims[2] * 2, 0);
        }
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported, {"blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight"});
}

TEST(ModelFile, NormsMustBeF32) {
    Edits e;
    e.tensor = [](std::string& name, std::vector<uint64_t>& dims, quant::GgmlType& type, std::vector<uint8_t>& data) {
        if (name == "output_norm.weight") {
            type = quant::GgmlType::F16;
            data.assign(dims[0] * 2, 0);
        }
        return true;
    };
    expect_error(rewrite(small_spec(), e), ErrorCode::Unsupported, {"output_norm.weight", "f16"});
}

// Keys that change the numerics and that moe-vk does not implement: each refused by name,
// with its value, unless it holds the value that changes nothing.
struct KeyCase {
    const char* name;
    const char* arch;
    const char* key;  // after "<arch>."
    gguf::Value value;
    const char* value_text;  // as the message gives it; nullptr: the file loads
};

void PrintTo(const KeyCase& c, std::ostream* os) { *os << c.name; }

class UnimplementedKey : public ::testing::TestWithParam<KeyCase> {};

gguf::Value f32(float v) { return {gguf::ValueType::F32, double(v)}; }
gguf::Value u32(uint32_t v) { return {gguf::ValueType::U32, uint64_t(v)}; }
gguf::Value text(const char* v) { return {gguf::ValueType::String, std::string(v)}; }
gguf::Value flag(bool v) { return {gguf::ValueType::Bool, v}; }

TEST_P(UnimplementedKey, IsRefusedByNameUnlessInert) {
    const KeyCase& c = GetParam();
    gguf::Writer w = synthetic_model(small_spec(c.arch));
    const std::string key = std::string(c.arch) + "." + c.key;
    w.set(key, c.value);
    test::TempFile file(std::string(c.name) + ".gguf", w.bytes());
    if (!c.value_text) {
        EXPECT_NO_THROW(ModelFile::open(file.path()));
        return;
    }
    test::expect_error([&] { ModelFile::open(file.path()); }, ErrorCode::Unsupported,
                       {file.path(), key + " = " + c.value_text, "does not implement"});
}

INSTANTIATE_TEST_SUITE_P(
    Keys, UnimplementedKey,
    ::testing::Values(
        // RoPE scaling: linear and YaRN are implemented (config.rope_scaling), others are not
        KeyCase{"rope_yarn", "llama", "rope.scaling.type", text("yarn"), nullptr},
        KeyCase{"rope_longrope", "qwen2moe", "rope.scaling.type", text("longrope"), "'longrope'"},
        KeyCase{"rope_yarn_log_mul", "qwen3moe", "rope.scaling.yarn_log_multiplier", f32(0.1f), "0.100000001"},
        KeyCase{"rope_factor", "llama", "rope.scaling.factor", f32(4.0f), nullptr},
        KeyCase{"rope_scale_linear", "qwen3moe", "rope.scale_linear", f32(2.0f), nullptr},
        KeyCase{"rope_attn_factor", "llama", "rope.scaling.attn_factor", f32(0.5f), nullptr},
        KeyCase{"rope_none", "llama", "rope.scaling.type", text("none"), nullptr},
        KeyCase{"rope_linear", "llama", "rope.scaling.type", text("linear"), nullptr},
        KeyCase{"rope_factor_1", "llama", "rope.scaling.factor", f32(1.0f), nullptr},
        // sliding-window attention, where the family has no sliding layers
        KeyCase{"sliding_window", "llama", "attention.sliding_window", u32(4096), "4096"},
        KeyCase{"sliding_window_0", "olmoe", "attention.sliding_window", u32(0), nullptr},
        // soft-capping
        KeyCase{"attn_softcap", "llama", "attn_logit_softcapping", f32(50.0f), "50"},
        KeyCase{"final_softcap", "qwen3moe", "final_logit_softcapping", f32(30.0f), "30"},
        // extra scales, clamps, grouped routing, bidirectional attention
        KeyCase{"attention_scale", "llama", "attention.scale", f32(0.25f), "0.25"},
        KeyCase{"attention_scale_default", "llama", "attention.scale", f32(0.125f), nullptr},  // 1/sqrt(64)
        KeyCase{"logit_scale", "llama", "logit_scale", f32(0.0625f), "0.0625"},
        KeyCase{"embedding_scale", "llama", "embedding_scale", f32(12.0f), "12"},
        KeyCase{"residual_scale", "llama", "residual_scale", f32(0.22f), "0.219999999"},
        KeyCase{"clamp_kqv", "olmoe", "attention.clamp_kqv", f32(8.0f), "8"},
        KeyCase{"expert_groups", "qwen3moe", "expert_group_count", u32(8), "8"},
        KeyCase{"not_causal", "llama", "attention.causal", flag(false), "false"},
        KeyCase{"causal", "llama", "attention.causal", flag(true), nullptr}),
    [](const ::testing::TestParamInfo<KeyCase>& info) { return std::string(info.param.name); });


// gpt-oss's recipe: every piece binds its tensors, the window and layer pattern come from the file
// (llama.cpp's default pattern 2: even layers slide), YaRN from rope.scaling.*, and the gating is
// the family's whatever expert_gating_func says (llama.cpp's graph ignores the key there).
TEST(ModelFile, GptOssBindsItsPiecesAndReadsItsLayerPattern) {
    SyntheticSpec s = small_spec("gpt-oss");
    s.n_layers = 3;
    s.sliding_window = 128;
    s.rope_scaling = "yarn";
    s.rope_scaling_factor = 32.0f;
    s.rope_original_context = 4096;
    std::vector<uint8_t> bytes = synthetic_model(s).bytes();
    ModelFile m = ModelFile::from(gguf::File::parse(bytes, kName));
    const ModelConfig& c = m.config();
    EXPECT_EQ(c.sliding_window, 128u);
    EXPECT_EQ(c.sliding_layers, (std::vector<bool>{true, false, true}));
    EXPECT_EQ(c.rope_scaling.kind, RopeScalingKind::Yarn);
    EXPECT_EQ(c.rope_scaling.factor, 32.0f);
    EXPECT_EQ(c.rope_scaling.original_context, 4096u);
    EXPECT_EQ(c.rope, RopeOrdering::NeoX);
    EXPECT_EQ(c.moe.gating, moe::Gating::SoftmaxSelected);
    EXPECT_EQ(c.moe.activation, moe::Activation::SwiGluClamped);
    for (const LayerWeights& l : m.weights().layers) {
        EXPECT_EQ(l.o_bias.size(), 256u);
        EXPECT_EQ(l.sinks.size(), 4u);
        EXPECT_EQ(l.q_bias.size(), 256u);
        EXPECT_EQ(l.moe.router_bias.size(), 4u);
        EXPECT_EQ(l.moe.gate_bias.size(), 4u * 256u);
        EXPECT_EQ(l.moe.down_bias.size(), 4u * 256u);
    }
    // The pattern as a period, as a per-layer array; the gating key changes nothing.
    auto with_key = [&](const std::string& key, gguf::Value value) {
        gguf::File f = gguf::File::parse(bytes, kName);
        gguf::Writer w;
        for (const auto& [k, v] : f.metadata()) w.set(k, v);
        w.set(key, value);
        for (const gguf::TensorInfo& t : f.tensors())
            w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data.begin(), t.data.end()));
        std::vector<uint8_t> out = w.bytes();
        return ModelFile::from(gguf::File::parse(out, kName)).config();
    };
    EXPECT_EQ(with_key("gpt-oss.attention.sliding_window_pattern", u32(3)).sliding_layers,
              (std::vector<bool>{true, true, false}));
    gguf::Value pattern{gguf::ValueType::Array, gguf::Array{gguf::ValueType::Bool, {flag(false), flag(true), flag(true)}}};
    EXPECT_EQ(with_key("gpt-oss.attention.sliding_window_pattern", pattern).sliding_layers,
              (std::vector<bool>{false, true, true}));
    EXPECT_EQ(with_key("gpt-oss.expert_gating_func", u32(1)).moe.gating, moe::Gating::SoftmaxSelected);
    // A missing piece is named.
    for (const char* tensor : {"blk.1.attn_sinks.weight", "blk.0.attn_output.bias", "blk.2.ffn_gate_inp.bias",
                               "blk.1.ffn_down_exps.bias", "blk.0.post_attention_norm.weight"}) {
        SCOPED_TRACE(tensor);
        Edits drop;
        drop.tensor = [&](std::string& name, auto&, auto&, auto&) { return name != tensor; };
        expect_error(rewrite(s, drop), ErrorCode::BadFile, {tensor, "missing"});
    }
    Edits no_window;
    no_window.metadata = [](std::string& key, gguf::Value&) { return key != "gpt-oss.attention.sliding_window"; };
    expect_error(rewrite(s, no_window), ErrorCode::BadFile, {"gpt-oss.attention.sliding_window"});
}

// GGUF allows any power of two as general.alignment. With 1 or 2, a tensor may start at an
// offset that is not a multiple of 4; the f32 tensors (norms, routers, biases) are read in place
// as floats, so one that is not 4-byte aligned must be refused by name (it was read misaligned:
// undefined behaviour, found while writing the model fuzz target's checks).
TEST(ModelFile, F32TensorsMustBeAligned) {
    for (size_t pad = 0; pad < 4; ++pad) {
        // A metadata string of `pad` bytes moves the data section, and with it every tensor.
        gguf::Writer w = synthetic_model(small_spec());
        w.set_string("test.pad", std::string(pad, 'x'));
        w.set_alignment(1);
        std::vector<uint8_t> bytes = w.bytes();
        gguf::File f = gguf::File::parse(bytes, kName);
        const gguf::TensorInfo* norm = f.find_tensor("output_norm.weight");
        ASSERT_TRUE(norm);
        if (norm->offset % 4 == 0) {
            ModelFile::from(std::move(f));  // aligned: loads
            continue;
        }
        expect_error(bytes, ErrorCode::BadFile,
                     {"output_norm.weight", std::to_string(norm->offset), "aligned"});
    }
}

TEST(ModelFile, MissingFileNamesThePath) {
    try {
        ModelFile::open("/nonexistent/model.gguf");
        ADD_FAILURE() << "opened a file that does not exist";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace moevk::model
