// The whole MoE layer (router -> top-k -> permute -> expert FFN -> combine in one command
// buffer) against the double-precision reference, over token counts, expert counts, top-k,
// weight formats and routing rules; plus determinism, capacity drops and bad input.
#include <cmath>
#include <cstring>

#include "gpu/error.h"
#include "moe/layer.h"
#include "moe/reference.h"
#include "moe_config.h"
#include "test_support.h"

namespace moevk::moe {
namespace {

using quant::WeightFormat;
using test::all_close;
using test::device_buffer;
using test::poisoned_buffer;
using test::random_floats;

// A float32 router may pick the other expert only where the exact scores of the K-th and
// (K+1)-th are this close; there the reference follows the GPU's choice.
constexpr double kNearTie = 1e-5;
constexpr double kLayerTolerance = 2e-5;

struct LayerRun {
    std::vector<float> out;
    std::vector<uint32_t> ids;
    uint32_t dropped;
};

class MoeLayerTest : public test::GpuTest {
protected:
    // Runs the layer on x with every workspace buffer and the output poisoned first.
    LayerRun run(MoeLayer& layer, const std::vector<float>& x, uint32_t tokens) {
        const MoeWorkspace& ws = layer.workspace();
        for (const gpu::Buffer* b : {&ws.logits, &ws.ids, &ws.weights, &ws.h, &ws.y, &ws.row_pair, &ws.pair_row})
            gpu::fill(ctx(), *b, test::kPoison);
        gpu::Buffer xb = device_buffer(ctx(), x, "x");
        gpu::Buffer out = poisoned_buffer(ctx(), x.size(), "out");
        gpu::CommandBuffer cb(ctx(), ctx().compute_queue());
        cb.begin();
        layer.record(cb, xb.address(), out.address(), tokens);
        cb.submit_and_wait();
        return {gpu::download<float>(ctx(), out, x.size()), layer.selected_ids(tokens), layer.dropped_pairs()};
    }

    // Checks one configuration end to end; returns the GPU output for further checks.
    LayerRun check(const MoeConfig& c, uint32_t tokens, uint64_t seed, LayerOptions options = {},
                   const MoeWeights* given = nullptr, const std::vector<float>* given_x = nullptr) {
        MoeWeights w = given ? *given : random_weights(c, seed);
        std::vector<DenseExpert> dense;
        for (uint32_t e = 0; e < c.n_experts; ++e) {
            dense.push_back(dequantize(w.experts[e], c.format, c.d_model, c.d_ff));
            attach_biases(dense.back(), view(w), e);
        }
        DenseExpert shared;
        if (c.d_ff_shared) {
            shared = dequantize(w.shared, c.format, c.d_model, c.d_ff_shared);
            shared.activation = c.activation;
        }
        std::vector<float> x = given_x ? *given_x : random_floats(size_t(tokens) * c.d_model, seed + 1);

        DeviceMoeWeights dw(ctx(), w);
        MoeLayer layer(ctx(), dw, tokens, options);
        LayerRun got = run(layer, x, tokens);

        auto ref = reference::layer(x, tokens, w, dense, c.d_ff_shared ? &shared : nullptr);
        size_t flips = 0;
        for (uint32_t t = 0; t < tokens; ++t) {
            bool same = std::equal(&got.ids[t * c.top_k], &got.ids[(t + 1) * c.top_k], &ref.routing.ids[t * c.top_k]);
            if (!same) {
                EXPECT_LT(ref.routing.margin[t], kNearTie) << "token " << t << " routed differently";
                ++flips;
            }
        }
        if (flips) ref = reference::layer(x, tokens, w, dense, c.d_ff_shared ? &shared : nullptr, &got.ids);
        EXPECT_TRUE(all_close(got.out, ref.out, kLayerTolerance)) << (flips ? "after near-tie flips" : "");
        EXPECT_EQ(got.dropped, layer.uses_matvec(tokens) ? 0u : ref.permutation.dropped);
        return got;
    }
};

struct SweepCase {
    WeightFormat format;
    uint32_t tokens, experts, k;
};

class LayerSweep : public MoeLayerTest, public testing::WithParamInterface<SweepCase> {};

TEST_P(LayerSweep, MatchesReference) {
    SweepCase s = GetParam();
    bool q = quant::block_values(s.format) > 1;
    // d and ff are not multiples of any workgroup or tile size (q8_0 and mxfp4 need whole
    // 32-blocks).
    MoeConfig c{.d_model = q ? 96u : 100u, .d_ff = q ? 160u : 72u, .n_experts = s.experts, .top_k = s.k,
                .format = s.format};
    check(c, s.tokens, s.tokens * 1000 + s.experts * 10 + s.k);
}

std::vector<SweepCase> sweep_cases() {
    std::vector<SweepCase> cases;
    for (uint32_t tokens : {1u, 2u, 7u, 64u, 513u})
        for (uint32_t experts : {1u, 8u, 60u, 128u})
            for (uint32_t k : {1u, 2u, 4u, 8u}) {
                if (k > experts) continue;
                cases.push_back({WeightFormat::F16, tokens, experts, k});
                // The other formats share every kernel but the weight decode: fewer shapes.
                if (tokens != 64 && (experts == 8 || experts == 60) && k != 1) {
                    cases.push_back({WeightFormat::F32, tokens, experts, k});
                    cases.push_back({WeightFormat::Q8_0, tokens, experts, k});
                    // gpt-oss's expert format; its 17-byte blocks put rows at odd offsets.
                    if (k != 8) cases.push_back({WeightFormat::MXFP4, tokens, experts, k});
                }
            }
    return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerSweep, testing::ValuesIn(sweep_cases()), [](const auto& info) {
    const SweepCase& s = info.param;
    return std::string(quant::format_name(s.format)) + "_T" + std::to_string(s.tokens) + "_E" +
           std::to_string(s.experts) + "_K" + std::to_string(s.k);
});

TEST_F(MoeLayerTest, RoutingRulesOfRealModels) {
    // Mixtral: softmax, renormalised top-2.
    check({.d_model = 128, .d_ff = 96, .n_experts = 8, .top_k = 2, .format = WeightFormat::Q8_0}, 33, 1);
    // OLMoE: softmax, top-8 of 64 not renormalised.
    check({.d_model = 96, .d_ff = 64, .n_experts = 64, .top_k = 8, .renormalize = false}, 20, 2);
    // Qwen2-MoE: a shared expert behind a sigmoid gate.
    check({.d_model = 100, .d_ff = 40, .n_experts = 60, .top_k = 4, .d_ff_shared = 88, .shared_gated = true}, 17, 3);
    // DeepSeek-V3 style: sigmoid scores, selection bias, renormalised and scaled by 2.5, an
    // ungated shared expert.
    check({.d_model = 96, .d_ff = 32, .n_experts = 128, .top_k = 8, .gating = Gating::Sigmoid,
           .selection_bias = true, .weight_scale = 2.5f, .d_ff_shared = 64, .shared_gated = false},
          40, 4);
    // gpt-oss-20b: softmax over the selected top-4 of 32 (the same as renormalising), MXFP4
    // experts at its d of 2880 (90 blocks); a smaller ff.
    check({.d_model = 2880, .d_ff = 64, .n_experts = 32, .top_k = 4,
           .format = WeightFormat::MXFP4},
          9, 6);
    // The shared expert on the decode path too.
    check({.d_model = 100, .d_ff = 40, .n_experts = 60, .top_k = 4, .d_ff_shared = 88}, 1, 5);
}

// gpt-oss: a router bias, softmax over the 4 selected of 32, biases on every expert's gate, up
// and down, and the clamped SwiGLU; decode (matvec) and prompt (grouped GEMM) paths, and inputs
// large enough that the clamps at +-7 bite on many rows.
TEST_F(MoeLayerTest, GptOssRoutingBiasesAndClampedActivation) {
    const MoeConfig c{.d_model = 96, .d_ff = 72, .n_experts = 32, .top_k = 4, .gating = Gating::SoftmaxSelected,
                      .renormalize = false, .router_bias = true, .expert_biases = true,
                      .activation = Activation::SwiGluClamped, .format = WeightFormat::F16};
    for (uint32_t tokens : {1u, 2u, 19u}) {
        SCOPED_TRACE(tokens);
        check(c, tokens, 70 + tokens);
        MoeWeights w = random_weights(c, 80 + tokens);
        std::vector<float> big = random_floats(size_t(tokens) * c.d_model, 90 + tokens, -6.0f, 6.0f);
        check(c, tokens, 80 + tokens, {}, &w, &big);
        // The clamps did something: some gate sums pass 7 (checked on the reference).
        DenseExpert e = dequantize(w.experts[0], c.format, c.d_model, c.d_ff);
        attach_biases(e, view(w), 0);
        size_t clamped = 0;
        for (uint32_t t = 0; t < tokens; ++t) {
            for (uint32_t n = 0; n < c.d_ff; ++n) {
                double g = e.gate_bias[n];
                for (uint32_t i = 0; i < c.d_model; ++i) g += double(e.gate[size_t(n) * c.d_model + i]) * big[size_t(t) * c.d_model + i];
                clamped += g > 7.0;
            }
        }
        EXPECT_GT(clamped, 0u);
    }
    // The weights a token gets are a softmax over its selected logits: they sum to 1.
    MoeWeights w = random_weights(c, 5);
    std::vector<float> x = random_floats(3 * c.d_model, 6);
    auto routing = reference::topk(reference::router_logits(x, 3, w), 3, c, {});
    for (uint32_t t = 0; t < 3; ++t) {
        double sum = 0;
        for (uint32_t k = 0; k < c.top_k; ++k) sum += routing.weights[t * c.top_k + k];
        EXPECT_NEAR(sum, 1.0, 1e-12);
    }
}

// The clamped SwiGLU at the points that define it, against values worked out by hand.
TEST(MoeReference, ClampedSwigluAtItsEdges) {
    auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
    EXPECT_DOUBLE_EQ(reference::activation(Activation::SwiGluClamped, 0.0, 3.0), 0.0);
    EXPECT_DOUBLE_EQ(reference::activation(Activation::SwiGluClamped, 10.0, 2.0), 7.0 * sig(1.702 * 7.0) * 3.0);
    EXPECT_DOUBLE_EQ(reference::activation(Activation::SwiGluClamped, 1.0, 20.0), sig(1.702) * 8.0);
    EXPECT_DOUBLE_EQ(reference::activation(Activation::SwiGluClamped, -30.0, -20.0), -30.0 * sig(-51.06) * -6.0);
    EXPECT_DOUBLE_EQ(reference::activation(Activation::SwiGlu, 2.0, 3.0), 2.0 * sig(2.0) * 3.0);
}

TEST_F(MoeLayerTest, MatvecPathMatchesGemmPath) {
    MoeConfig c{.d_model = 100, .d_ff = 72, .n_experts = 8, .top_k = 2, .d_ff_shared = 50};
    LayerRun gemm = check(c, 7, 42, {.matvec_max_tokens = 1});
    LayerRun matvec = check(c, 7, 42, {.matvec_max_tokens = 8});
    EXPECT_EQ(gemm.ids, matvec.ids);
    EXPECT_TRUE(all_close(matvec.out, std::vector<double>(gemm.out.begin(), gemm.out.end()), kLayerTolerance));
}

// Every token prefers the last expert; a capacity factor then drops the overflow.
TEST_F(MoeLayerTest, AllTokensToOneExpertWithCapacity) {
    for (float capacity : {0.0f, 1.0f, 2.0f}) {
        SCOPED_TRACE(testing::Message() << "capacity factor " << capacity);
        MoeConfig c{.d_model = 64, .d_ff = 48, .n_experts = 8, .top_k = 1, .capacity_factor = capacity};
        uint32_t tokens = 50;
        MoeWeights w = random_weights(c, 9);
        for (uint32_t i = 0; i < c.d_model; ++i) w.router[7 * c.d_model + i] = 1.0f;
        std::vector<float> x = random_floats(size_t(tokens) * c.d_model, 10, 0.1f, 1.0f);  // all positive
        LayerRun got = check(c, tokens, 9, {}, &w, &x);
        for (uint32_t t = 0; t < tokens; ++t) EXPECT_EQ(got.ids[t], 7u);
        uint32_t cap = capacity_rows(c, tokens);  // ceil(C * 50 * 1 / 8)
        EXPECT_EQ(got.dropped, capacity > 0 ? tokens - cap : 0u);
    }
}

TEST_F(MoeLayerTest, IdenticalAcrossRuns) {
    MoeConfig c{.d_model = 100, .d_ff = 72, .n_experts = 60, .top_k = 4, .d_ff_shared = 40};
    MoeWeights w = random_weights(c, 5);
    DeviceMoeWeights dw(ctx(), w);
    for (uint32_t tokens : {1u, 513u}) {
        MoeLayer layer(ctx(), dw, tokens);
        std::vector<float> x = random_floats(size_t(tokens) * c.d_model, 6);
        LayerRun a = run(layer, x, tokens), b = run(layer, x, tokens);
        ASSERT_EQ(a.out.size(), b.out.size());
        EXPECT_EQ(std::memcmp(a.out.data(), b.out.data(), a.out.size() * 4), 0) << "T=" << tokens;
        EXPECT_EQ(a.ids, b.ids);
    }
}

// The layer recorded in parts, as expert paging runs it: routing, then the expert FFN once per
// group of experts over the permutation's tiles filtered to the group (each group in its own
// submission), then one combine. The output must be record()'s bit for bit.
TEST_F(MoeLayerTest, InPartsWithExpertGroupsIsBitIdentical) {
    for (float capacity : {0.0f, 1.0f}) {
        MoeConfig c{.d_model = 96, .d_ff = 64, .n_experts = 12, .top_k = 3, .capacity_factor = capacity,
                    .d_ff_shared = 32};
        SCOPED_TRACE("capacity factor " + std::to_string(capacity));
        DeviceMoeWeights dw(ctx(), random_weights(c, 7));
        for (uint32_t tokens : {1u, 37u}) {
            SCOPED_TRACE("T=" + std::to_string(tokens));
            MoeLayer layer(ctx(), dw, tokens);
            std::vector<float> x = random_floats(size_t(tokens) * c.d_model, 8);
            LayerRun whole = run(layer, x, tokens);

            gpu::Buffer xb = device_buffer(ctx(), x, "x");
            gpu::Buffer out = poisoned_buffer(ctx(), x.size(), "out");
            gpu::fill(ctx(), layer.workspace().y, test::kPoison);
            gpu::CommandBuffer cb(ctx(), ctx().compute_queue());
            cb.begin();
            layer.record_routing(cb, dw, xb.address(), tokens);
            cb.submit_and_wait();
            gpu::Buffer group_tiles;
            if (layer.uses_matvec(tokens)) {
                cb.begin();
                layer.record_experts_matvec(cb, dw, 0, xb.address(), tokens);
                cb.submit_and_wait();
            } else {
                const MoeWorkspace& ws = layer.workspace();
                uint32_t n_tiles = gpu::download<uint32_t>(ctx(), ws.meta, MOE_META_WORDS)[MOE_META_GATE_UP_ARGS + 1];
                std::vector<uint32_t> tiles = gpu::download<uint32_t>(ctx(), ws.tiles, size_t(n_tiles) * 3);
                // Groups of experts in an order unlike the permutation's: e % 3 == 2, 1, 0.
                for (uint32_t g : {2u, 1u, 0u}) {
                    std::vector<uint32_t> mine;
                    for (uint32_t t = 0; t < n_tiles; ++t)
                        if (tiles[t * 3] % 3 == g) mine.insert(mine.end(), &tiles[t * 3], &tiles[t * 3 + 3]);
                    if (mine.empty()) continue;
                    group_tiles = device_buffer(ctx(), mine, "group tiles");
                    cb.begin();
                    layer.record_experts_tiles(cb, dw, 0, xb.address(), tokens, group_tiles.address(),
                                               uint32_t(mine.size() / 3), g == 2);
                    cb.submit_and_wait();
                }
            }
            cb.begin();
            layer.record_output(cb, dw, xb.address(), out.address(), tokens);
            cb.submit_and_wait();
            std::vector<float> parts = gpu::download<float>(ctx(), out, x.size());
            EXPECT_EQ(std::memcmp(parts.data(), whole.out.data(), parts.size() * 4), 0);
        }
    }
}

// Expects `f` to throw moevk::Error with InvalidArgument and `needle` in its message.
template <class F>
void expect_invalid(F&& f, const std::string& needle) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one mentioning \"" << needle << "\"";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

TEST_F(MoeLayerTest, BadShapesAreRefusedWithTheValue) {
    MoeConfig good{.d_model = 64, .d_ff = 64, .n_experts = 8, .top_k = 2};
    auto with = [&](auto change) {
        MoeConfig c = good;
        change(c);
        return c;
    };
    expect_invalid([&] { validate(with([](MoeConfig& c) { c.top_k = 9; })); }, "top_k (9)");
    expect_invalid([&] { validate(with([](MoeConfig& c) { c.n_experts = 0; })); }, "n_experts");
    expect_invalid([&] { validate(with([](MoeConfig& c) { c.n_experts = 300; })); }, "300");
    expect_invalid([&] { validate(with([](MoeConfig& c) { c.d_model = 0; })); }, "d_model");
    expect_invalid([&] { validate(with([](MoeConfig& c) { c.d_ff = 0; })); }, "d_ff");
    expect_invalid([&] { validate(with([](MoeConfig& c) { c.top_k = 0; })); }, "top_k");
    expect_invalid([&] { validate(with([](MoeConfig& c) { c.top_k = 17, c.n_experts = 64; })); }, "17");
    expect_invalid([&] { validate(with([](MoeConfig& c) { c.capacity_factor = -1; })); }, "capacity_factor");
    expect_invalid(
        [&] { validate(with([](MoeConfig& c) { c.format = WeightFormat::Q8_0, c.d_model = 100; })); }, "100");

    MoeWeights w = random_weights(good, 1);
    w.experts[3].up.resize(w.experts[3].up.size() - 1);
    expect_invalid([&] { DeviceMoeWeights dw(ctx(), w); }, "expert 3 up");
    w = random_weights(good, 1);
    w.router.pop_back();
    expect_invalid([&] { DeviceMoeWeights dw(ctx(), w); }, "router");

    DeviceMoeWeights dw(ctx(), random_weights(good, 2));
    expect_invalid([&] { MoeLayer layer(ctx(), dw, 0); }, "max_tokens");
    MoeLayer layer(ctx(), dw, 4);
    expect_invalid([&] { layer.forward(std::vector<float>(5 * 64), 5); }, "got 5");
    expect_invalid([&] { layer.forward(std::vector<float>(3), 1); }, "expected tokens * d_model = 64");
    // The layer stays usable after refusing bad input.
    EXPECT_EQ(layer.forward(random_floats(64, 3), 1).size(), 64u);
}

}  // namespace
}  // namespace moevk::moe
