// Model files mix weight formats inside one MoE layer (a Q4_K_M file may keep ffn_down in Q6_K):
// the layer takes a format per matrix, for routed and shared experts apart.
#include "gpu/error.h"
#include "moe/layer.h"
#include "moe/reference.h"
#include "test_support.h"

namespace moevk::moe {
namespace {

using quant::WeightFormat;

ExpertMatrices reencode(const DenseExpert& e, const ExpertFormats& f, uint32_t d) {
    return {quant::encode_matrix(f.gate_up, e.gate, e.d_ff, d), quant::encode_matrix(f.gate_up, e.up, e.d_ff, d),
            quant::encode_matrix(f.down, e.down, d, e.d_ff)};
}

class MixedFormats : public test::GpuTest {
protected:
    // Stores every matrix of random f32 weights in its format, uploads them with the formats
    // per matrix, and checks the layer at one token (matvec path) and 37 (grouped GEMM) against
    // the reference on the same weights dequantised. Returns the device weights' expert size.
    uint64_t check(const MoeConfig& c, const ExpertFormats& routed, const ExpertFormats& shared) {
        MoeWeights w = random_weights(c, 3);
        std::vector<DenseExpert> dense;
        std::vector<ExpertMatrices> stored;
        for (auto& m : w.experts) {
            DenseExpert e = dequantize(m, WeightFormat::F32, c.d_model, c.d_ff);
            stored.push_back(reencode(e, routed, c.d_model));
            dense.push_back(decoded(stored.back(), routed, c.d_model, c.d_ff));
        }
        w.experts = stored;
        DenseExpert dense_shared;
        if (c.d_ff_shared) {
            DenseExpert s = dequantize(w.shared, WeightFormat::F32, c.d_model, c.d_ff_shared);
            w.shared = reencode(s, shared, c.d_model);
            dense_shared = decoded(w.shared, shared, c.d_model, c.d_ff_shared);
        }

        MoeWeightsView v = view(w);
        v.formats = routed;
        v.shared_formats = shared;
        DeviceMoeWeights dw(ctx(), v);

        for (uint32_t tokens : {1u, 37u}) {
            SCOPED_TRACE(testing::Message() << "T=" << tokens);
            MoeLayer layer(ctx(), c, tokens);
            std::vector<float> x = test::random_floats(size_t(tokens) * c.d_model, tokens);
            gpu::Buffer xb = test::device_buffer(ctx(), x, "x");
            gpu::Buffer out = test::poisoned_buffer(ctx(), x.size(), "out");
            gpu::CommandBuffer cb(ctx(), ctx().compute_queue());
            cb.begin();
            layer.record(cb, dw, xb.address(), out.address(), tokens);
            cb.submit_and_wait();
            auto ref = reference::layer(x, tokens, w, dense, c.d_ff_shared ? &dense_shared : nullptr);
            EXPECT_TRUE(test::all_close(gpu::download<float>(ctx(), out, x.size()), ref.out, 2e-5));
        }
        return dw.expert_bytes();
    }

    static DenseExpert decoded(const ExpertMatrices& m, const ExpertFormats& f, uint32_t d, uint32_t ff) {
        return {ff, quant::decode_matrix(f.gate_up, m.gate, ff, d),
                quant::decode_matrix(f.gate_up, m.up, ff, d),
                quant::decode_matrix(f.down, m.down, d, ff)};
    }
};

TEST_F(MixedFormats, EachMatrixReadsInItsOwnFormat) {
    MoeConfig c{.d_model = 96, .d_ff = 64, .n_experts = 8, .top_k = 2, .d_ff_shared = 32,
                .format = WeightFormat::F32};
    uint64_t bytes =
        check(c, {WeightFormat::Q8_0, WeightFormat::F16}, {WeightFormat::F16, WeightFormat::Q8_0});
    EXPECT_EQ(bytes, 2 * 64 * quant::row_bytes(WeightFormat::Q8_0, 96) + 96 * 64 * 2);
}

// As a Q4_K_M file stores an MoE layer: Q4_K gate and up, Q6_K down; the shared expert here in
// Q5_K and BF16.
TEST_F(MixedFormats, KQuantsAsQ4_K_MFilesMixThem) {
    MoeConfig c{.d_model = 256, .d_ff = 256, .n_experts = 4, .top_k = 2, .d_ff_shared = 256,
                .shared_gated = true, .format = WeightFormat::F32};
    uint64_t bytes = check(c, {WeightFormat::Q4_K, WeightFormat::Q6_K},
                           {WeightFormat::Q5_K, WeightFormat::BF16});
    EXPECT_EQ(bytes, 2 * 256 * 144 + 256 * 210);  // one super-block a row
}

TEST_F(MixedFormats, WeightsOfAnotherShapeAreRefused) {
    MoeConfig c{.d_model = 64, .d_ff = 64, .n_experts = 8, .top_k = 2};
    MoeConfig other = c;
    other.n_experts = 16;
    DeviceMoeWeights dw(ctx(), random_weights(other, 1));
    MoeLayer layer(ctx(), c, 4);
    gpu::CommandBuffer cb(ctx(), ctx().compute_queue());
    cb.begin();
    try {
        layer.record(cb, dw, 0, 0, 1);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("E=16"), std::string::npos) << e.what();
    }
    cb.end();
}

}  // namespace
}  // namespace moevk::moe
