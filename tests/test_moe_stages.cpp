// Each MoE kernel against the double-precision reference, on fresh random inputs, outputs
// poisoned first. Edge shapes: one token, one expert, sizes that are not multiples of the
// workgroup sizes, and every pair routed to one expert.
#include <algorithm>
#include <numeric>
#include <random>

#include "moe/device_weights.h"
#include "moe/reference.h"
#include "moe/stages.h"
#include "test_support.h"

namespace moevk::moe {
namespace {

using test::all_close;
using test::device_buffer;
using test::poisoned_buffer;
using test::random_floats;

class MoeStages : public test::GpuTest {};

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Each token routes to K distinct experts, drawn at random.
std::vector<uint32_t> random_routing(uint32_t tokens, uint32_t n_experts, uint32_t k, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint32_t> all(n_experts), ids;
    std::iota(all.begin(), all.end(), 0u);
    for (uint32_t t = 0; t < tokens; ++t) {
        std::shuffle(all.begin(), all.end(), rng);
        ids.insert(ids.end(), all.begin(), all.begin() + k);
    }
    return ids;
}

void run(gpu::Context& ctx, const std::function<void(gpu::CommandBuffer&)>& record) {
    gpu::CommandBuffer cb(ctx, ctx.compute_queue());
    cb.begin();
    record(cb);
    cb.submit_and_wait();
}

TEST_F(MoeStages, RouterMatchesReference) {
    struct Case { uint32_t tokens, experts, d; };
    for (Case s : {Case{1, 1, 33}, Case{2, 8, 100}, Case{7, 60, 257}, Case{64, 128, 64}, Case{513, 8, 96}}) {
        SCOPED_TRACE(testing::Message() << "T=" << s.tokens << " E=" << s.experts << " d=" << s.d);
        MoeWeights w;
        w.config = {.d_model = s.d, .d_ff = 32, .n_experts = s.experts, .top_k = 1};
        w.router = random_floats(size_t(s.experts) * s.d, 1 + s.tokens);
        std::vector<float> x = random_floats(size_t(s.tokens) * s.d, 2 + s.tokens);
        gpu::Buffer xb = device_buffer(ctx(), x, "x"), wb = device_buffer(ctx(), w.router, "router");
        gpu::Buffer logits = poisoned_buffer(ctx(), size_t(s.tokens) * s.experts, "logits");
        run(ctx(), [&](gpu::CommandBuffer& cb) {
            record_router(cb, ctx(), xb.address(), wb.address(), logits.address(), s.tokens, s.d, s.experts);
        });
        auto got = gpu::download<float>(ctx(), logits, size_t(s.tokens) * s.experts);
        EXPECT_TRUE(all_close(got, reference::router_logits(x, s.tokens, w), 1e-5));
    }
}

struct TopkCase {
    uint32_t tokens, experts, k;
    Gating gating;
    bool bias, renormalize;
    float scale;
};

void check_topk(gpu::Context& ctx, const TopkCase& s, const std::vector<float>& logits) {
    MoeConfig c{.d_model = 32, .d_ff = 32, .n_experts = s.experts, .top_k = s.k, .gating = s.gating,
                .selection_bias = s.bias, .renormalize = s.renormalize, .weight_scale = s.scale};
    std::vector<float> bias = s.bias ? random_floats(s.experts, 77, -0.05f, 0.05f) : std::vector<float>{};
    gpu::Buffer lb = device_buffer(ctx, logits, "logits");
    gpu::Buffer bb = s.bias ? device_buffer(ctx, bias, "bias") : gpu::Buffer{};
    gpu::Buffer ids = poisoned_buffer(ctx, size_t(s.tokens) * s.k, "ids");
    gpu::Buffer weights = poisoned_buffer(ctx, size_t(s.tokens) * s.k, "weights");
    run(ctx, [&](gpu::CommandBuffer& cb) {
        record_topk(cb, ctx, lb.address(), s.bias ? bb.address() : 0, ids.address(), weights.address(),
                    s.tokens, c);
    });
    reference::Routing ref = reference::topk(to_double(logits), s.tokens, c, bias);
    auto got_ids = gpu::download<uint32_t>(ctx, ids, ref.ids.size());
    auto got_w = gpu::download<float>(ctx, weights, ref.ids.size());
    size_t mismatched_tokens = 0;
    for (uint32_t t = 0; t < s.tokens; ++t) {
        bool same = std::equal(&got_ids[t * s.k], &got_ids[t * s.k] + s.k, &ref.ids[t * s.k]);
        // Only a near-tie of scores computed in float32 may legitimately pick differently.
        if (!same && !(ref.margin[t] > 0 && ref.margin[t] < 1e-6)) ++mismatched_tokens;
        if (!same) std::copy_n(&ref.ids[t * s.k], s.k, &got_ids[t * s.k]);
    }
    EXPECT_EQ(mismatched_tokens, 0u);
    EXPECT_TRUE(all_close(got_w, ref.weights, 1e-5));
}

TEST_F(MoeStages, TopkMatchesReference) {
    std::vector<TopkCase> cases = {
        {1, 1, 1, Gating::Softmax, false, true, 1.0f},     {2, 8, 2, Gating::Softmax, false, true, 1.0f},
        {7, 60, 4, Gating::Softmax, false, false, 1.0f},   {64, 128, 8, Gating::Softmax, false, true, 1.0f},
        {513, 8, 8, Gating::Softmax, false, true, 1.0f},   {33, 256, 16, Gating::Sigmoid, true, true, 2.5f},
        {17, 64, 6, Gating::Sigmoid, false, true, 1.0f},   {9, 60, 4, Gating::Softmax, true, false, 1.0f},
        {5, 128, 8, Gating::Sigmoid, true, false, 0.5f},
    };
    for (const TopkCase& s : cases) {
        SCOPED_TRACE(testing::Message() << "T=" << s.tokens << " E=" << s.experts << " K=" << s.k);
        check_topk(ctx(), s, random_floats(size_t(s.tokens) * s.experts, s.tokens * 31 + s.experts, -4, 4));
    }
}

TEST_F(MoeStages, TopkTiesGoToTheLowerExpert) {
    // Every token has all-equal logits, then a block of equal maxima in the middle.
    for (Gating g : {Gating::Softmax, Gating::Sigmoid}) {
        TopkCase s{3, 16, 4, g, false, true, 1.0f};
        std::vector<float> logits(3 * 16, 0.25f);
        for (uint32_t e = 5; e < 12; ++e) logits[16 + e] = 1.5f;
        for (uint32_t e = 0; e < 16; ++e) logits[32 + e] = e % 3 == 0 ? 2.0f : -1.0f;
        check_topk(ctx(), s, logits);
    }
}

struct PermuteCase {
    uint32_t tokens, experts, k;
    float capacity_factor;
    bool one_expert;  // every pair to expert experts-1
};

TEST_F(MoeStages, PermuteIsAStableCountingSort) {
    std::vector<PermuteCase> cases = {
        {1, 1, 1, 0, false},   {2, 8, 2, 0, false},    {7, 60, 4, 0, false},  {64, 128, 8, 0, false},
        {513, 8, 2, 0, false}, {513, 60, 8, 0, false}, {64, 8, 2, 1.0f, false}, {513, 128, 4, 1.25f, false},
        {100, 8, 1, 0, true},  {100, 8, 1, 1.0f, true},
    };
    for (const PermuteCase& s : cases) {
        SCOPED_TRACE(testing::Message() << "T=" << s.tokens << " E=" << s.experts << " K=" << s.k
                                        << " C=" << s.capacity_factor << (s.one_expert ? " one expert" : ""));
        MoeConfig c{.d_model = 32, .d_ff = 32, .n_experts = s.experts, .top_k = s.k,
                    .capacity_factor = s.capacity_factor};
        uint32_t pairs = s.tokens * s.k;
        std::vector<uint32_t> ids = s.one_expert ? std::vector<uint32_t>(pairs, s.experts - 1)
                                                 : random_routing(s.tokens, s.experts, s.k, pairs);
        uint32_t capacity = capacity_rows(c, s.tokens);
        uint32_t max_tiles = max_gemm_tiles(pairs, s.experts);
        gpu::Buffer idb = device_buffer(ctx(), ids, "ids");
        gpu::Buffer counts = poisoned_buffer(ctx(), s.experts, "counts"), kept = poisoned_buffer(ctx(), s.experts, "kept"),
                    offsets = poisoned_buffer(ctx(), s.experts, "offsets"),
                    tiles = poisoned_buffer(ctx(), max_tiles * 3, "tiles"), meta = poisoned_buffer(ctx(), MOE_META_WORDS, "meta"),
                    row_pair = poisoned_buffer(ctx(), pairs, "row_pair"), pair_row = poisoned_buffer(ctx(), pairs, "pair_row");
        PermuteBuffers pb{idb.address(),   counts.address(),   kept.address(),     offsets.address(),
                          tiles.address(), meta.address(),     row_pair.address(), pair_row.address()};
        run(ctx(), [&](gpu::CommandBuffer& cb) { record_permute(cb, ctx(), pb, pairs, s.experts, capacity, 5, 7); });

        reference::Permutation ref = reference::permute(ids, s.experts, capacity);
        EXPECT_EQ(gpu::download<uint32_t>(ctx(), counts, s.experts), ref.counts);
        EXPECT_EQ(gpu::download<uint32_t>(ctx(), kept, s.experts), ref.kept);
        EXPECT_EQ(gpu::download<uint32_t>(ctx(), offsets, s.experts), ref.offsets);
        EXPECT_EQ(gpu::download<uint32_t>(ctx(), pair_row, pairs), ref.pair_row);
        uint32_t rows = static_cast<uint32_t>(ref.row_pair.size());
        EXPECT_EQ(gpu::download<uint32_t>(ctx(), row_pair, pairs), [&] {
            auto v = ref.row_pair;
            v.resize(pairs, test::kPoison);  // rows past the kept ones stay untouched
            return v;
        }());
        // The tile list covers each expert's rows in order, TILE_ROWS at a time.
        std::vector<uint32_t> want_tiles;
        for (uint32_t e = 0; e < s.experts; ++e)
            for (uint32_t r = 0; r < ref.kept[e]; r += MOE_GEMM_TILE_ROWS)
                want_tiles.insert(want_tiles.end(), {e, uint32_t(ref.offsets[e] + r), std::min<uint32_t>(MOE_GEMM_TILE_ROWS, ref.kept[e] - r)});
        uint32_t n_tiles = static_cast<uint32_t>(want_tiles.size() / 3);
        auto got_meta = gpu::download<uint32_t>(ctx(), meta, MOE_META_WORDS);
        EXPECT_EQ(got_meta, (std::vector<uint32_t>{5, n_tiles, 1, 7, n_tiles, 1, rows, ref.dropped}));
        auto got_tiles = gpu::download<uint32_t>(ctx(), tiles, max_tiles * 3);
        got_tiles.resize(want_tiles.size());
        EXPECT_EQ(got_tiles, want_tiles);
        if (s.capacity_factor > 0 && s.one_expert) {
            EXPECT_GT(ref.dropped, 0u);
        }
    }
}

struct FfnCase {
    ExpertFormats formats;  // gate/up pass, down pass
    uint32_t tokens, experts, k, d, ff;
};

// Runs permute + grouped GEMM (and, separately, the matvec path) on fixed routing and checks
// every row against the reference FFN on the same dequantised weights.
void check_expert_ffn(gpu::Context& ctx, const FfnCase& s, double rtol) {
    SCOPED_TRACE(testing::Message() << quant::format_name(s.formats.gate_up) << "/"
                                    << quant::format_name(s.formats.down) << " T=" << s.tokens
                                    << " E=" << s.experts << " K=" << s.k << " d=" << s.d << " ff=" << s.ff);
    // Random f32 weights, stored in each pass's format; the reference gets them dequantised.
    MoeConfig c{.d_model = s.d, .d_ff = s.ff, .n_experts = s.experts, .top_k = s.k,
                .format = quant::WeightFormat::F32};
    MoeWeights w = random_weights(c, s.tokens * 7 + s.experts);
    std::vector<DenseExpert> dense;
    for (ExpertMatrices& m : w.experts) {
        DenseExpert e = dequantize(m, quant::WeightFormat::F32, s.d, s.ff);
        m = {quant::encode_matrix(s.formats.gate_up, e.gate, s.ff, s.d),
             quant::encode_matrix(s.formats.gate_up, e.up, s.ff, s.d),
             quant::encode_matrix(s.formats.down, e.down, s.d, s.ff)};
        dense.push_back({s.ff, quant::decode_matrix(s.formats.gate_up, m.gate, s.ff, s.d),
                         quant::decode_matrix(s.formats.gate_up, m.up, s.ff, s.d),
                         quant::decode_matrix(s.formats.down, m.down, s.d, s.ff)});
    }
    MoeWeightsView v = view(w);
    v.formats = s.formats;
    DeviceMoeWeights dw(ctx, v);

    uint32_t pairs = s.tokens * s.k;
    std::vector<float> x = random_floats(size_t(s.tokens) * s.d, 5);
    std::vector<uint32_t> ids = random_routing(s.tokens, s.experts, s.k, 9 + s.tokens);
    if (s.k == 1 && s.experts == 8) std::fill(ids.begin(), ids.end(), 3u);  // all to one expert
    reference::Permutation perm = reference::permute(ids, s.experts, kUncapped);
    // Reference output of every pair.
    std::vector<double> want_y(size_t(pairs) * s.d), h, y;
    for (uint32_t p = 0; p < pairs; ++p) {
        reference::expert_ffn(&x[size_t(p / s.k) * s.d], dense[ids[p]], s.d, h, y);
        std::copy(y.begin(), y.end(), &want_y[size_t(p) * s.d]);
    }

    gpu::Buffer xb = device_buffer(ctx, x, "x"), idb = device_buffer(ctx, ids, "ids");
    uint32_t max_tiles = max_gemm_tiles(pairs, s.experts);
    gpu::Buffer counts = poisoned_buffer(ctx, s.experts, "counts"), kept = poisoned_buffer(ctx, s.experts, "kept"),
                offsets = poisoned_buffer(ctx, s.experts, "offsets"),
                tiles = poisoned_buffer(ctx, max_tiles * 3, "tiles"), meta = poisoned_buffer(ctx, MOE_META_WORDS, "meta"),
                row_pair = poisoned_buffer(ctx, pairs, "row_pair"), pair_row = poisoned_buffer(ctx, pairs, "pair_row"),
                hb = poisoned_buffer(ctx, size_t(pairs) * s.ff, "h"), yb = poisoned_buffer(ctx, size_t(pairs) * s.d, "y");
    run(ctx, [&](gpu::CommandBuffer& cb) {
        PermuteBuffers pb{idb.address(),   counts.address(), kept.address(),     offsets.address(),
                          tiles.address(), meta.address(),   row_pair.address(), pair_row.address()};
        record_permute(cb, ctx, pb, pairs, s.experts, kUncapped, gemm_col_groups(s.ff), gemm_col_groups(s.d));
        cb.barrier();
        record_expert_gemm_indirect(cb, ctx,
                                    {s.formats.gate_up, true, xb.address(), hb.address(), row_pair.address(),
                                     tiles.address(), dw.expert_table(), s.d, s.ff, s.k},
                                    meta, MOE_META_GATE_UP_ARGS * 4);
        cb.barrier();
        record_expert_gemm_indirect(cb, ctx,
                                    {s.formats.down, false, hb.address(), yb.address(), 0, tiles.address(),
                                     dw.expert_table(), s.ff, s.d, s.k},
                                    meta, MOE_META_DOWN_ARGS * 4);
    });
    // GEMM rows are in permuted order: row r holds pair perm.row_pair[r].
    auto got_rows = gpu::download<float>(ctx, yb, size_t(pairs) * s.d);
    std::vector<float> got_pairs(got_rows.size());
    for (uint32_t r = 0; r < pairs; ++r)
        std::copy_n(&got_rows[size_t(r) * s.d], s.d, &got_pairs[size_t(perm.row_pair[r]) * s.d]);
    EXPECT_TRUE(all_close(got_pairs, want_y, rtol)) << "grouped GEMM";

    gpu::Buffer hv = poisoned_buffer(ctx, size_t(pairs) * s.ff, "h"), yv = poisoned_buffer(ctx, size_t(pairs) * s.d, "y");
    run(ctx, [&](gpu::CommandBuffer& cb) {
        record_expert_matvec(cb, ctx, {s.formats.gate_up, true, xb.address(), hv.address(), idb.address(),
                                       dw.expert_table(), s.d, s.ff, pairs, s.k});
        cb.barrier();
        record_expert_matvec(cb, ctx, {s.formats.down, false, hv.address(), yv.address(), idb.address(),
                                       dw.expert_table(), s.ff, s.d, pairs, s.k});
    });
    EXPECT_TRUE(all_close(gpu::download<float>(ctx, yv, size_t(pairs) * s.d), want_y, rtol)) << "matvec";
}

class ExpertFfn : public test::GpuTest, public testing::WithParamInterface<quant::WeightFormat> {};

TEST_P(ExpertFfn, GemmAndMatvecMatchReference) {
    quant::WeightFormat format = GetParam();
    ExpertFormats f{format, format};
    bool q = quant::block_values(format) > 1;  // q8_0 rows are whole 32-blocks
    std::vector<FfnCase> cases = {
        {f, 1, 1, 1, q ? 32u : 33u, q ? 64u : 17u},  {f, 2, 8, 2, q ? 96u : 100u, q ? 160u : 72u},
        {f, 7, 60, 4, q ? 64u : 70u, q ? 96u : 90u}, {f, 64, 8, 8, q ? 96u : 100u, q ? 160u : 72u},
        {f, 40, 8, 1, 64, 64},
    };
    for (const FfnCase& s : cases) check_expert_ffn(ctx(), s, 2e-5);
}

INSTANTIATE_TEST_SUITE_P(Formats, ExpertFfn,
                         testing::Values(quant::WeightFormat::F32, quant::WeightFormat::F16, quant::WeightFormat::BF16,
                                         quant::WeightFormat::Q8_0),
                         [](const auto& info) { return std::string(quant::format_name(info.param)); });

// The block formats, each pass in turn: rows of 256 values (one K-quant super-block, eight
// 32-blocks) while the pass's output count (200) is not a multiple of the 64-column GEMM tile;
// the other pass reads f32. Then both passes in the format with ff = 512. Token counts: one
// (a single pair per expert) and counts that are not multiples of the 16-row GEMM tile.
class BlockFormatFfn : public test::GpuTest, public testing::WithParamInterface<quant::WeightFormat> {};

TEST_P(BlockFormatFfn, GemmAndMatvecMatchReference) {
    using quant::WeightFormat;
    WeightFormat format = GetParam();
    std::vector<FfnCase> cases = {
        {{format, WeightFormat::F32}, 1, 4, 2, 256, 200},
        {{WeightFormat::F32, format}, 37, 4, 2, 200, 256},
        {{format, format}, 19, 3, 1, 256, 512},
    };
    for (const FfnCase& s : cases) check_expert_ffn(ctx(), s, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Formats, BlockFormatFfn,
                         testing::Values(quant::WeightFormat::Q4_0, quant::WeightFormat::Q4_1,
                                         quant::WeightFormat::Q5_0, quant::WeightFormat::Q5_1,
                                         quant::WeightFormat::Q8_0, quant::WeightFormat::Q4_K,
                                         quant::WeightFormat::Q5_K, quant::WeightFormat::Q6_K),
                         [](const auto& info) { return std::string(quant::format_name(info.param)); });

TEST_F(MoeStages, CombineMatchesReference) {
    struct Case { uint32_t tokens, experts, k, d; float capacity; bool shared, gated; };
    for (Case s : {Case{1, 1, 1, 33, 0, false, false}, Case{7, 8, 2, 100, 0, true, true},
                   Case{64, 60, 4, 65, 1.0f, true, false}, Case{513, 8, 8, 96, 1.0f, false, false},
                   Case{2, 128, 8, 257, 0, true, true}}) {
        SCOPED_TRACE(testing::Message() << "T=" << s.tokens << " K=" << s.k << " d=" << s.d << " C=" << s.capacity
                                        << " shared=" << s.shared << " gated=" << s.gated);
        MoeConfig c{.d_model = s.d, .d_ff = 32, .n_experts = s.experts, .top_k = s.k, .capacity_factor = s.capacity};
        uint32_t pairs = s.tokens * s.k;
        std::vector<uint32_t> ids = random_routing(s.tokens, s.experts, s.k, 3 + pairs);
        reference::Permutation perm = reference::permute(ids, s.experts, capacity_rows(c, s.tokens));
        std::vector<float> y = random_floats(size_t(pairs) * s.d, 11), weights = random_floats(pairs, 12, 0, 1),
                           x = random_floats(size_t(s.tokens) * s.d, 13),
                           shared_y = random_floats(size_t(s.tokens) * s.d, 14),
                           gate = random_floats(s.d, 15, -0.2f, 0.2f);
        gpu::Buffer yb = device_buffer(ctx(), y, "y"), prb = device_buffer(ctx(), perm.pair_row, "pair_row"),
                    wb = device_buffer(ctx(), weights, "weights"), xb = device_buffer(ctx(), x, "x"),
                    syb = device_buffer(ctx(), shared_y, "shared_y"), gb = device_buffer(ctx(), gate, "gate"),
                    out = poisoned_buffer(ctx(), size_t(s.tokens) * s.d, "out");
        run(ctx(), [&](gpu::CommandBuffer& cb) {
            record_combine(cb, ctx(), {yb.address(), prb.address(), wb.address(), out.address(), xb.address(),
                                       s.gated ? gb.address() : 0, s.shared ? syb.address() : 0, s.tokens, s.d, s.k});
        });
        auto want = reference::combine(to_double(y), perm.pair_row, to_double(weights), s.tokens, s.k, s.d, x,
                                       s.shared ? to_double(shared_y) : std::vector<double>{},
                                       s.gated ? gate : std::vector<float>{});
        EXPECT_TRUE(all_close(gpu::download<float>(ctx(), out, size_t(s.tokens) * s.d), want, 1e-5));
    }
}

}  // namespace
}  // namespace moevk::moe
