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

class MixedFormats : public test::GpuTest {};

TEST_F(MixedFormats, EachMatrixReadsInItsOwnFormat) {
    MoeConfig c{.d_model = 96, .d_ff = 64, .n_experts = 8, .top_k = 2, .d_ff_shared = 32, .format = WeightFormat::F32};
    MoeWeights w = random_weights(c, 3);
    const ExpertFormats routed{WeightFormat::Q8_0, WeightFormat::F16};
    const ExpertFormats shared{WeightFormat::F16, WeightFormat::Q8_0};

    // Re-encode every matrix in its format; the reference uses the same weights dequantised.
    std::vector<DenseExpert> dense;
    std::vector<ExpertMatrices> stored;
    for (auto& m : w.experts) {
        DenseExpert e = dequantize(m, WeightFormat::F32, c.d_model, c.d_ff);
        stored.push_back(reencode(e, routed, c.d_model));
        dense.push_back({c.d_ff, quant::decode_matrix(routed.gate_up, stored.back().gate, c.d_ff, c.d_model),
                         quant::decode_matrix(routed.gate_up, stored.back().up, c.d_ff, c.d_model),
                         quant::decode_matrix(routed.down, stored.back().down, c.d_model, c.d_ff)});
    }
    w.experts = stored;
    DenseExpert s = dequantize(w.shared, WeightFormat::F32, c.d_model, c.d_ff_shared);
    w.shared = reencode(s, shared, c.d_model);
    DenseExpert dense_shared{c.d_ff_shared, quant::decode_matrix(shared.gate_up, w.shared.gate, c.d_ff_shared, c.d_model),
                             quant::decode_matrix(shared.gate_up, w.shared.up, c.d_ff_shared, c.d_model),
                             quant::decode_matrix(shared.down, w.shared.down, c.d_model, c.d_ff_shared)};

    MoeWeightsView v = view(w);
    v.formats = routed;
    v.shared_formats = shared;
    DeviceMoeWeights dw(ctx(), v);
    EXPECT_EQ(dw.expert_bytes(), 2 * 64 * quant::row_bytes(WeightFormat::Q8_0, 96) + 96 * 64 * 2);

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
        auto ref = reference::layer(x, tokens, w, dense, &dense_shared);
        EXPECT_TRUE(test::all_close(gpu::download<float>(ctx(), out, x.size()), ref.out, 2e-5));
    }
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
