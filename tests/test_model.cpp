// The whole forward pass on the GPU against the double-precision CPU reference, on models with
// random weights written in each supported architecture's GGUF layout: prompt batches, batches
// split in chunks, and generation one token at a time over the KV cache.
#include <cmath>

#include "gguf/gguf.h"
#include "gpu/error.h"
#include "model/model_file.h"
#include "model/synthetic.h"
#include "runtime/device_model.h"
#include "runtime/reference_model.h"
#include "runtime/session.h"
#include "runtime/step_runner.h"
#include "generated_model.h"
#include "test_support.h"

namespace moevk {
namespace {

using test::all_close;

using test::generate;
using test::GeneratedModel;
using test::some_tokens;

// Routing decisions the reference makes by a clear margin must be the GPU's too; below it, an
// f32 engine may legitimately pick the other expert and the logits are not comparable.
constexpr double kClearRoutingMargin = 1e-3;

double smallest_margin(const runtime::ref::ForwardResult& r) {
    double m = INFINITY;
    for (const auto& layer : r.routing_margin)
        for (double v : layer) m = std::min(m, v);
    return m;
}

struct Case {
    const char* name;
    model::SyntheticSpec spec;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ModelVsReference : public test::GpuTest, public ::testing::WithParamInterface<Case> {};

TEST_P(ModelVsReference, PromptBatchChunksAndDecodeMatch) {
    const model::SyntheticSpec& spec = GetParam().spec;
    GeneratedModel g = generate(spec);
    const uint32_t n_vocab = g.model->config().n_vocab;
    std::vector<uint32_t> tokens = some_tokens(9, n_vocab, spec.seed);
    runtime::ref::ForwardResult ref = runtime::ref::forward(*g.model, tokens);
    ASSERT_GT(smallest_margin(ref), kClearRoutingMargin) << "seed gives a routing near-tie; pick another";

    runtime::DeviceModel device(ctx(), *g.model);
    // The whole prompt as one batch, with every expert selection recorded.
    {
        runtime::Session s(ctx(), device, {.n_ctx = 32, .max_batch = 16, .record_experts = true});
        std::vector<float> logits = s.eval(tokens);
        EXPECT_TRUE(all_close(logits, ref.logits, 1e-4));
        for (size_t l = 0; l < ref.experts.size(); ++l) EXPECT_EQ(s.selected_experts()[l], ref.experts[l]) << "layer " << l;
        EXPECT_EQ(s.position(), tokens.size());
    }
    // Chunks of 4, 4, 1 tokens: later chunks attend to the cache the earlier ones wrote.
    {
        runtime::Session s(ctx(), device, {.n_ctx = 32, .max_batch = 4});
        EXPECT_TRUE(all_close(s.eval(tokens), ref.logits, 1e-4));
    }
    // A prompt of 5, then one token at a time (the matrix-vector path), in an f16 cache too.
    for (runtime::KvFormat kv : {runtime::KvFormat::F32, runtime::KvFormat::F16}) {
        SCOPED_TRACE(runtime::kv_format_name(kv));
        runtime::Session s(ctx(), device, {.n_ctx = 16, .max_batch = 8, .kv_format = kv});
        std::vector<float> logits = s.eval(std::span(tokens).first(5));
        for (size_t t = 5; t < tokens.size(); ++t) {
            std::vector<float> row = s.eval(std::span(tokens).subspan(t, 1), false);
            logits.insert(logits.end(), row.begin(), row.end());
        }
        EXPECT_TRUE(all_close(logits, ref.logits, kv == runtime::KvFormat::F32 ? 1e-4 : 3e-3));
    }
}

model::SyntheticSpec spec(const char* arch, uint32_t heads, uint32_t kv_heads, uint32_t head_dim, uint32_t seed) {
    model::SyntheticSpec s;
    s.architecture = arch;
    s.n_layers = 3;
    s.d_model = 96;
    s.n_heads = heads;
    s.n_kv_heads = kv_heads;
    s.head_dim = head_dim;
    s.n_vocab = 101;
    s.n_experts = 6;
    s.top_k = 2;
    s.d_ff = 64;
    s.d_ff_shared = 96;
    s.seed = seed;
    return s;
}

model::SyntheticSpec with_formats(model::SyntheticSpec s, quant::WeightFormat f) {
    s.d_model = 128;  // whole Q8_0 blocks
    s.attn_format = s.gate_up_format = s.down_format = s.embed_format = s.output_format = f;
    return s;
}

// As gpt-oss files store them: MXFP4 routed experts, the other matrices in Q8_0 (d = 160 and
// ff = 64: five and two blocks a row, so expert rows start at odd byte offsets).
model::SyntheticSpec with_mxfp4_experts(model::SyntheticSpec s) {
    s.d_model = 160;
    s.attn_format = s.embed_format = s.output_format = quant::WeightFormat::Q8_0;
    s.gate_up_format = s.down_format = quant::WeightFormat::MXFP4;
    return s;
}

model::SyntheticSpec with_partial_rope(model::SyntheticSpec s, uint32_t n_rot) {
    s.n_rot = n_rot;
    return s;
}

model::SyntheticSpec without_bias(model::SyntheticSpec s) {
    s.qkv_bias = false;
    return s;
}

model::SyntheticSpec tied(model::SyntheticSpec s) {
    s.tied_output = true;
    return s;
}

// gpt-oss: biases everywhere, sinks, the clamped SwiGLU, softmax over the selected experts, and
// sliding-window attention on layers 0 and 2 with a window the 9-token prompt crosses; YaRN with
// a correction range inside the rotary dims.
model::SyntheticSpec gpt_oss(uint32_t window, uint32_t seed) {
    model::SyntheticSpec s = spec("gpt-oss", 4, 2, 16, seed);
    s.top_k = 4;
    s.sliding_window = window;
    s.rope_scaling = "yarn";
    s.rope_scaling_factor = 4.0f;
    s.rope_original_context = 64;
    return s;
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, ModelVsReference,
    ::testing::Values(Case{"llama_gqa4", spec("llama", 8, 2, 16, 1)},
                      Case{"llama_odd_heads", spec("llama", 3, 1, 32, 2)},
                      Case{"llama_partial_rope_tied", tied(with_partial_rope(spec("llama", 4, 4, 24, 3), 16))},
                      Case{"qwen3moe_gqa2", spec("qwen3moe", 6, 3, 16, 4)},
                      Case{"qwen2moe_shared_bias", spec("qwen2moe", 4, 2, 24, 5)},
                      Case{"qwen2moe_shared_no_bias", without_bias(spec("qwen2moe", 4, 2, 24, 10))},
                      Case{"olmoe_whole_qk_norm", spec("olmoe", 5, 5, 16, 6)},
                      Case{"gpt_oss_window_4", gpt_oss(4, 12)},
                      Case{"gpt_oss_window_1", gpt_oss(1, 13)},
                      Case{"gpt_oss_window_past_the_context", gpt_oss(64, 14)},
                      Case{"gpt_oss_f16", with_formats(gpt_oss(3, 15), quant::WeightFormat::F16)},
                      Case{"gpt_oss_mxfp4_experts", with_mxfp4_experts(gpt_oss(8, 16))},
                      Case{"llama_f16", with_formats(spec("llama", 4, 2, 32, 7), quant::WeightFormat::F16)},
                      Case{"qwen3moe_q8_0", with_formats(spec("qwen3moe", 4, 2, 32, 8), quant::WeightFormat::Q8_0)},
                      Case{"llama_mxfp4_experts",
                           with_mxfp4_experts(spec("llama", 5, 1, 32, 11))}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

class ModelSession : public test::GpuTest {};

TEST_F(ModelSession, RejectsTokensOutsideTheVocabularyAndAFullContext) {
    GeneratedModel g = generate(spec("llama", 4, 2, 24, 9));
    runtime::DeviceModel device(ctx(), *g.model);
    runtime::Session s(ctx(), device, {.n_ctx = 4, .max_batch = 4});
    std::vector<uint32_t> bad = {1, 101};
    try {
        s.eval(bad);
        FAIL() << "token 101 of a 101-token vocabulary was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("101"), std::string::npos) << e.what();
    }
    EXPECT_EQ(s.position(), 0u);
    std::vector<uint32_t> four = {1, 2, 3, 4};
    s.eval(four);
    try {
        s.eval(std::span(four).first(1));
        FAIL() << "a fifth token went into a 4-position context";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
    }
    s.reset();
    EXPECT_EQ(s.eval(four).size(), 4u * 101u);
}

void expect_non_finite_logits_refused(gpu::Context& ctx, const model::SyntheticSpec& nan_spec) {
    SCOPED_TRACE(quant::format_name(nan_spec.attn_format));
    std::vector<uint8_t> good = model::synthetic_model(nan_spec).bytes();
    gguf::File parsed = gguf::File::parse(good, "good");
    gguf::Writer w;
    for (const auto& [key, value] : parsed.metadata()) w.set(key, value);
    for (const gguf::TensorInfo& t : parsed.tensors())
        w.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data.size(), 0xff));  // NaN in f32 and in f16 scales
    test::TempFile file("all-nan.gguf", w.bytes());
    model::ModelFile m = model::ModelFile::open(file.path());
    runtime::DeviceModel device(ctx, m);
    runtime::Session s(ctx, device, {.n_ctx = 8, .max_batch = 4});
    std::vector<uint32_t> tokens = {1, 2, 3};
    test::expect_error([&] { s.eval(tokens, false); }, ErrorCode::BadFile, {"position 2", "not finite"});
    test::expect_error([&] { s.eval(tokens); }, ErrorCode::BadFile, {"position 0", "not finite"});
    EXPECT_EQ(s.position(), 0u);
    runtime::StepRunner runner(ctx, s);
    runner.begin(std::span(tokens).first(1));
    test::expect_error(
        [&] {
            while (!runner.finished()) {
                runner.submit(1e9);
                runner.wait();
            }
        },
        ErrorCode::BadFile, {"position 0", "not finite"});
    runner.abandon();
    EXPECT_EQ(s.position(), 0u);
}

// A file whose weights are all NaN, written to disk: evaluating it must fail naming the
// position, not hand a sampler logits it turns into some token. Batch, token by token, and the
// budgeted steps (pieces) alike.
TEST_F(ModelSession, NonFiniteLogitsAreAnError) {
    for (quant::WeightFormat f : {quant::WeightFormat::F32, quant::WeightFormat::Q8_0})
        expect_non_finite_logits_refused(ctx(), with_formats(spec("llama", 4, 2, 32, 11), f));
}
}  // namespace
}  // namespace moevk
