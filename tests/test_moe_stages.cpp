// Each MoE kernel against the double-precision reference, on fresh random inputs, outputs
// poisoned first. Edge shapes: one token, one expert, sizes that are not multiples of the
// workgroup sizes, and every pair routed to one expert. The matrix-vector kernel also on each of
// its reduction paths, forced through MatvecOptions.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <numeric>
#include <random>

#include "gpu/error.h"
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
    struct Case { uint32_t tokens, experts, d; bool bias = false; };
    for (Case s : {Case{1, 1, 33}, Case{2, 8, 100}, Case{7, 60, 257}, Case{64, 128, 64}, Case{513, 8, 96},
                   Case{1, 32, 96, true}, Case{9, 128, 100, true}}) {  // gpt-oss's router bias
        SCOPED_TRACE(testing::Message() << "T=" << s.tokens << " E=" << s.experts << " d=" << s.d << " bias=" << s.bias);
        MoeWeights w;
        w.config = {.d_model = s.d, .d_ff = 32, .n_experts = s.experts, .top_k = 1, .router_bias = s.bias};
        w.router = random_floats(size_t(s.experts) * s.d, 1 + s.tokens);
        if (s.bias) w.router_bias = random_floats(s.experts, 3 + s.tokens, -2.0f, 2.0f);
        std::vector<float> x = random_floats(size_t(s.tokens) * s.d, 2 + s.tokens);
        gpu::Buffer xb = device_buffer(ctx(), x, "x"), wb = device_buffer(ctx(), w.router, "router");
        gpu::Buffer bb = s.bias ? device_buffer(ctx(), w.router_bias, "router bias") : gpu::Buffer{};
        gpu::Buffer logits = poisoned_buffer(ctx(), size_t(s.tokens) * s.experts, "logits");
        run(ctx(), [&](gpu::CommandBuffer& cb) {
            record_router(cb, ctx(), xb.address(), wb.address(), logits.address(), s.tokens, s.d, s.experts,
                          s.bias ? bb.address() : 0);
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
        // gpt-oss: a softmax over the selected logits only
        {1, 32, 4, Gating::SoftmaxSelected, false, false, 1.0f}, {19, 128, 4, Gating::SoftmaxSelected, false, false, 1.0f},
        {3, 16, 16, Gating::SoftmaxSelected, false, false, 2.0f}, {8, 8, 1, Gating::SoftmaxSelected, false, true, 1.0f},
    };
    for (const TopkCase& s : cases) {
        SCOPED_TRACE(testing::Message() << "T=" << s.tokens << " E=" << s.experts << " K=" << s.k);
        check_topk(ctx(), s, random_floats(size_t(s.tokens) * s.experts, s.tokens * 31 + s.experts, -4, 4));
    }
}

TEST_F(MoeStages, TopkTiesGoToTheLowerExpert) {
    // Every token has all-equal logits, then a block of equal maxima in the middle.
    for (Gating g : {Gating::Softmax, Gating::Sigmoid, Gating::SoftmaxSelected}) {
        TopkCase s{3, 16, 4, g, false, true, 1.0f};
        std::vector<float> logits(3 * 16, 0.25f);
        for (uint32_t e = 5; e < 12; ++e) logits[16 + e] = 1.5f;
        for (uint32_t e = 0; e < 16; ++e) logits[32 + e] = e % 3 == 0 ? 2.0f : -1.0f;
        check_topk(ctx(), s, logits);
    }
}

// NaN router logits (NaN weights upstream) compare false with everything: the selection must
// still give K distinct valid expert ids, never the padding's 0xFFFFFFFF that the expert
// kernels would index with.
TEST_F(MoeStages, TopkOfNanLogitsSelectsValidExperts) {
    for (Gating g : {Gating::Softmax, Gating::Sigmoid, Gating::SoftmaxSelected}) {
        const uint32_t T = 3, E = 12, K = 4;
        std::vector<float> logits = random_floats(size_t(T) * E, 5, -4, 4);
        for (uint32_t e = 0; e < E; ++e) logits[e] = std::nanf("");  // token 0: all NaN
        logits[E + 3] = logits[2 * E + 0] = logits[2 * E + 11] = std::nanf("");  // some NaN
        MoeConfig c{.d_model = 32, .d_ff = 32, .n_experts = E, .top_k = K, .gating = g};
        gpu::Buffer lb = device_buffer(ctx(), logits, "logits");
        gpu::Buffer ids = poisoned_buffer(ctx(), T * K, "ids");
        gpu::Buffer weights = poisoned_buffer(ctx(), T * K, "weights");
        run(ctx(), [&](gpu::CommandBuffer& cb) {
            record_topk(cb, ctx(), lb.address(), 0, ids.address(), weights.address(), T, c);
        });
        auto got = gpu::download<uint32_t>(ctx(), ids, T * K);
        for (uint32_t t = 0; t < T; ++t) {
            std::vector<uint32_t> row(&got[t * K], &got[t * K] + K);
            for (uint32_t id : row) EXPECT_LT(id, E) << "token " << t;
            std::sort(row.begin(), row.end());
            EXPECT_EQ(std::unique(row.begin(), row.end()), row.end()) << "token " << t << " picked an expert twice";
        }
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
                row_pair = poisoned_buffer(ctx, pairs, "row_pair"), pair_row = poisoned_buffer(ctx, pairs, "pair_row");
    // Every GEMM shape (the CPU's 8 columns a thread, the GPU's 2, and 4) on this device; each
    // sums every output over k in the same order, so all give the same bits.
    std::vector<float> first_shape;
    for (uint32_t columns : {2u, 4u, 8u}) {
        SCOPED_TRACE(testing::Message() << columns << " GEMM columns a thread");
        GemmOptions options{columns};
        gpu::Buffer hb = poisoned_buffer(ctx, size_t(pairs) * s.ff, "h"),
                    yb = poisoned_buffer(ctx, size_t(pairs) * s.d, "y");
        run(ctx, [&](gpu::CommandBuffer& cb) {
            PermuteBuffers pb{idb.address(),   counts.address(), kept.address(),     offsets.address(),
                              tiles.address(), meta.address(),   row_pair.address(), pair_row.address()};
            record_permute(cb, ctx, pb, pairs, s.experts, kUncapped, gemm_col_groups(s.ff), gemm_col_groups(s.d));
            cb.barrier();
            record_expert_gemm_indirect(cb, ctx,
                                        {s.formats.gate_up, true, xb.address(), hb.address(), row_pair.address(),
                                         tiles.address(), dw.expert_table(), s.d, s.ff, s.k, 0xFFFFFFFFu, {}, options},
                                        meta, MOE_META_GATE_UP_ARGS * 4);
            cb.barrier();
            record_expert_gemm_indirect(cb, ctx,
                                        {s.formats.down, false, hb.address(), yb.address(), 0, tiles.address(),
                                         dw.expert_table(), s.ff, s.d, s.k, 0xFFFFFFFFu, {}, options},
                                        meta, MOE_META_DOWN_ARGS * 4);
        });
        // GEMM rows are in permuted order: row r holds pair perm.row_pair[r].
        auto got_rows = gpu::download<float>(ctx, yb, size_t(pairs) * s.d);
        std::vector<float> got_pairs(got_rows.size());
        for (uint32_t r = 0; r < pairs; ++r)
            std::copy_n(&got_rows[size_t(r) * s.d], s.d, &got_pairs[size_t(perm.row_pair[r]) * s.d]);
        EXPECT_TRUE(all_close(got_pairs, want_y, rtol)) << "grouped GEMM";
        if (first_shape.empty())
            first_shape = got_rows;
        else
            EXPECT_EQ(0, std::memcmp(first_shape.data(), got_rows.data(), got_rows.size() * sizeof(float)))
                << "the shapes' outputs differ";
    }

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
// (a single pair per expert) and counts that are not multiples of the 32-row GEMM tile.
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
                                         quant::WeightFormat::Q5_K, quant::WeightFormat::Q6_K,
                                         quant::WeightFormat::MXFP4),
                         [](const auto& info) { return std::string(quant::format_name(info.param)); });

// gpt-oss's widths: d = 2880 is 90 MXFP4 blocks (a multiple of 32, not of 256), each row 1530
// bytes, so rows start at both even alignments; ff = 480 is 15 blocks, 255 bytes a row, so down
// rows start at every byte alignment. Four experts (not gpt-oss-20b's 32) keep the random
// weights to 16M values.
TEST_F(MoeStages, Mxfp4AtGptOssWidths) {
    using quant::WeightFormat;
    ExpertFormats f{WeightFormat::MXFP4, WeightFormat::MXFP4};
    for (uint32_t tokens : {1u, 5u}) check_expert_ffn(ctx(), {f, tokens, 4, 2, 2880, 480}, 1e-5);
}

// --- the matrix-vector kernel's paths ---------------------------------------------------------

struct MatvecPath {
    std::string name;
    MatvecOptions options;
};

// Shared memory always (16 lanes, with the grid folded into z after two workgroups); where the
// device has subgroup arithmetic, subgroupAdd, and a subgroup pipeline whose lanes are not the
// subgroup size, which must notice and reduce through shared memory. Each is a pipeline to
// compile, which lavapipe is slow at, hence no more.
std::vector<MatvecPath> matvec_paths(const gpu::DeviceInfo& info) {
    std::vector<MatvecPath> paths = {
        {"shared memory, 16 lanes, 2 workgroups in x", {MatvecReduction::SharedMemory, 16, 2}}};
    if (info.features.subgroup_arithmetic) {
        paths.push_back({"subgroup", {MatvecReduction::Subgroup}});
        paths.push_back({"subgroup pipeline, half-subgroup lanes",
                         {MatvecReduction::Subgroup, std::max(info.subgroup_size / 2, 1u)}});
    }
    return paths;
}

// Two experts' gate, up and down matrices [d_out][d_in] in one buffer, each starting 4 bytes past
// a 16-byte boundary (as tensors inside a model file may), and the expert table pointing at them.
struct MatvecWeights {
    std::vector<std::vector<float>> dense;  // [e * 3 + matrix], dequantised
    gpu::Buffer blob, table;
};

MatvecWeights matvec_weights(gpu::Context& ctx, quant::WeightFormat format, uint32_t d_in,
                             uint32_t d_out, uint32_t experts, uint64_t seed) {
    MatvecWeights w;
    std::vector<uint8_t> bytes;
    std::vector<size_t> offsets;
    for (uint32_t i = 0; i < experts * 3; ++i) {
        std::vector<uint8_t> m = quant::encode_matrix(
            format, random_floats(size_t(d_out) * d_in, seed + i), d_out, d_in);
        w.dense.push_back(quant::decode_matrix(format, m, d_out, d_in));
        bytes.resize((bytes.size() + 15) / 16 * 16 + 4);
        offsets.push_back(bytes.size());
        bytes.insert(bytes.end(), m.begin(), m.end());
    }
    bytes.resize((bytes.size() + 3) / 4 * 4);
    w.blob = device_buffer(ctx, bytes, "matvec weights");
    std::vector<uint64_t> table;
    for (size_t o : offsets) table.push_back(w.blob.address() + o);
    w.table = device_buffer(ctx, table, "matvec table");
    return w;
}

double dot_row(const std::vector<float>& w, uint32_t row, const float* x, uint32_t d_in) {
    double acc = 0;
    for (uint32_t c = 0; c < d_in; ++c) acc += double(w[size_t(row) * d_in + c]) * x[c];
    return acc;
}

class MatvecKernel : public test::GpuTest,
                     public testing::WithParamInterface<quant::WeightFormat> {};

// Both passes on every path, with x 16-byte aligned (and, on one path, not: the block formats read
// it as vec4 when it is): d_in below one row group's span of a row, about one span, and past four
// spans (the kernel's unrolled loop); d_out of 1 and a count that no rows-per-workgroup divides.
TEST_P(MatvecKernel, EveryPathMatchesReference) {
    quant::WeightFormat format = GetParam();
    size_t block = quant::block_values(format);
    std::vector<uint32_t> d_ins = block == 1    ? std::vector<uint32_t>{7, 64, 1031}
                                  : block == 32 ? std::vector<uint32_t>{32, 96, 1056}
                                                : std::vector<uint32_t>{256, 2304};
    // gpt-oss's d: 90 blocks, a multiple of 32 but not of 256.
    if (format == quant::WeightFormat::MXFP4) d_ins.push_back(2880);
    const uint32_t experts = 2, pairs = 4, per_token = 2, tokens = pairs / per_token;
    const std::vector<uint32_t> ids = {1, 0, 0, 1};
    std::vector<MatvecPath> paths = matvec_paths(ctx().info());
    for (uint32_t d_in : d_ins) {
        for (uint32_t d_out : {1u, 37u}) {
            if (d_out == 1 && d_in != d_ins.front()) continue;
            SCOPED_TRACE(testing::Message()
                         << quant::format_name(format) << " d_in=" << d_in << " d_out=" << d_out);
            MatvecWeights w = matvec_weights(ctx(), format, d_in, d_out, experts, d_in + d_out);
            // x [tokens][d_in] for gate/up, h [pairs][d_in] for down, each also 4 bytes further on.
            std::vector<float> x = random_floats(size_t(tokens) * d_in, 3 + d_in);
            std::vector<float> h = random_floats(size_t(pairs) * d_in, 4 + d_in);
            std::vector<float> shifted_x = x, shifted_h = h;
            shifted_x.insert(shifted_x.begin(), 0.0f);
            shifted_h.insert(shifted_h.begin(), 0.0f);
            gpu::Buffer xb = device_buffer(ctx(), x, "x"), hb = device_buffer(ctx(), h, "h");
            gpu::Buffer xb4 = device_buffer(ctx(), shifted_x, "x + 4"),
                        hb4 = device_buffer(ctx(), shifted_h, "h + 4");
            ASSERT_EQ(xb.address() % 16, 0u);
            ASSERT_EQ(hb.address() % 16, 0u);
            gpu::Buffer idb = device_buffer(ctx(), ids, "ids");
            std::vector<double> want_h(size_t(pairs) * d_out), want_y(size_t(pairs) * d_out);
            for (uint32_t p = 0; p < pairs; ++p) {
                for (uint32_t n = 0; n < d_out; ++n) {
                    const float* xp = &x[size_t(p / per_token) * d_in];
                    double g = dot_row(w.dense[ids[p] * 3 + 0], n, xp, d_in);
                    double u = dot_row(w.dense[ids[p] * 3 + 1], n, xp, d_in);
                    want_h[size_t(p) * d_out + n] = g / (1 + std::exp(-g)) * u;
                    want_y[size_t(p) * d_out + n] =
                        dot_row(w.dense[ids[p] * 3 + 2], n, &h[size_t(p) * d_in], d_in);
                }
            }
            struct Run {
                std::string what;
                gpu::Buffer h, y;
            };
            std::vector<Run> runs;
            run(ctx(), [&](gpu::CommandBuffer& cb) {
                for (const MatvecPath& path : paths) {
                    for (uint32_t shift : {0u, 4u}) {
                        if (shift != 0 && &path != &paths.back()) continue;  // one path is enough
                        Run r{path.name + (shift ? ", x not 16-byte aligned" : ""),
                              poisoned_buffer(ctx(), size_t(pairs) * d_out, "h out"),
                              poisoned_buffer(ctx(), size_t(pairs) * d_out, "y out")};
                        Address xa = shift ? xb4.address() + 4 : xb.address();
                        Address ha = shift ? hb4.address() + 4 : hb.address();
                        record_expert_matvec(
                            cb, ctx(),
                            {format, true, xa, r.h.address(), idb.address(), w.table.address(),
                             d_in, d_out, pairs, per_token, path.options});
                        record_expert_matvec(
                            cb, ctx(),
                            {format, false, ha, r.y.address(), idb.address(), w.table.address(),
                             d_in, d_out, pairs, 1, path.options});
                        runs.push_back(std::move(r));
                    }
                }
            });
            for (const Run& r : runs) {
                EXPECT_TRUE(all_close(gpu::download<float>(ctx(), r.h, size_t(pairs) * d_out),
                                      want_h, 1e-5))
                    << r.what << ", gate/up";
                EXPECT_TRUE(all_close(gpu::download<float>(ctx(), r.y, size_t(pairs) * d_out),
                                      want_y, 1e-5))
                    << r.what << ", down";
            }
        }
    }
}

// A row's value may not depend on what else the dispatch holds (expert paging runs subsets):
// one pair and the first 3 rows alone give the bits that pair's rows got among 4 pairs x 37 rows.
TEST_P(MatvecKernel, RowsDoNotDependOnTheRestOfTheDispatch) {
    quant::WeightFormat format = GetParam();
    uint32_t d_in = quant::block_values(format) == 256 ? 512 : 96, d_out = 37, pairs = 4;
    MatvecWeights w = matvec_weights(ctx(), format, d_in, d_out, 2, 17);
    const std::vector<uint32_t> ids = {1, 0, 0, 1};
    gpu::Buffer hb = device_buffer(ctx(), random_floats(size_t(pairs) * d_in, 18), "h");
    gpu::Buffer idb = device_buffer(ctx(), ids, "ids");
    gpu::Buffer all = poisoned_buffer(ctx(), size_t(pairs) * d_out, "all rows");
    gpu::Buffer some = poisoned_buffer(ctx(), 3, "some rows");
    const uint32_t p = 2;
    run(ctx(), [&](gpu::CommandBuffer& cb) {
        record_expert_matvec(cb, ctx(),
                             {format, false, hb.address(), all.address(), idb.address(),
                              w.table.address(), d_in, d_out, pairs, 1});
        record_expert_matvec(cb, ctx(),
                             {format, false, hb.address() + size_t(p) * d_in * 4, some.address(),
                              idb.address() + p * 4, w.table.address(), d_in, 3, 1, 1});
    });
    auto got_all = gpu::download<uint32_t>(ctx(), all, size_t(pairs) * d_out);
    auto got_some = gpu::download<uint32_t>(ctx(), some, 3);
    EXPECT_EQ(got_some,
              std::vector<uint32_t>(got_all.begin() + p * d_out, got_all.begin() + p * d_out + 3));
}

INSTANTIATE_TEST_SUITE_P(
    Formats, MatvecKernel,
    testing::Values(quant::WeightFormat::F32, quant::WeightFormat::F16, quant::WeightFormat::BF16,
                    quant::WeightFormat::Q4_0, quant::WeightFormat::Q4_1, quant::WeightFormat::Q5_0,
                    quant::WeightFormat::Q5_1, quant::WeightFormat::Q8_0, quant::WeightFormat::Q4_K,
                    quant::WeightFormat::Q5_K, quant::WeightFormat::Q6_K,
                    quant::WeightFormat::MXFP4),
    [](const auto& info) { return std::string(quant::format_name(info.param)); });

TEST_F(MoeStages, GemmGeometryFollowsTheDeviceKind) {
    gpu::DeviceInfo info = ctx().info();
    info.kind = gpu::DeviceKind::Cpu;
    EXPECT_EQ(gemm_geometry(info).columns_per_thread, 8u);
    constexpr uint32_t row_blocks = MOE_GEMM_TILE_ROWS / MOE_GEMM_ROWS_PER_THREAD;
    EXPECT_EQ(gemm_geometry(info).threads, row_blocks * (MOE_GEMM_TILE_COLS / 8));
    info.kind = gpu::DeviceKind::Discrete;
    EXPECT_EQ(gemm_geometry(info).columns_per_thread, 2u);
    EXPECT_EQ(gemm_geometry(info).threads, row_blocks * (MOE_GEMM_TILE_COLS / 2));
    EXPECT_EQ(gemm_geometry(info, {4}).threads, row_blocks * (MOE_GEMM_TILE_COLS / 4));
    for (uint32_t bad : {1u, 3u, 16u}) {
        try {
            gemm_geometry(info, {bad});
            ADD_FAILURE() << "no error for " << bad << " columns a thread";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
            EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
        }
    }
}

TEST_F(MoeStages, MatvecGeometryFollowsTheDevice) {
    gpu::DeviceInfo info = ctx().info();
    MatvecGeometry g = matvec_geometry(info);
    EXPECT_EQ(g.subgroup, info.features.subgroup_arithmetic);
    EXPECT_EQ(g.lanes, g.subgroup ? info.subgroup_size : MOE_MATVEC_LANES);
    EXPECT_EQ(g.rows_per_group, g.threads / g.lanes * MOE_MATVEC_ROWS_PER_THREAD);
    std::cout << "[          ] " << info.name << ": subgroup size " << info.subgroup_size
              << ", arithmetic " << info.features.subgroup_arithmetic << "; matvec " << g.threads
              << " threads, " << g.lanes << " lanes, " << g.rows_per_group
              << " rows per workgroup\n";
    info.features.subgroup_arithmetic = false;
    EXPECT_FALSE(matvec_geometry(info).subgroup);
    EXPECT_EQ(matvec_geometry(info).lanes, uint32_t(MOE_MATVEC_LANES));
    try {
        matvec_geometry(info, {MatvecReduction::Subgroup});
        ADD_FAILURE() << "no error for a subgroup reduction without subgroup arithmetic";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::Unsupported) << e.what();
    }
    info.features.subgroup_arithmetic = true;
    info.subgroup_size = 64;
    EXPECT_EQ(matvec_geometry(info).rows_per_group,
              MOE_MATVEC_THREADS / 64 * MOE_MATVEC_ROWS_PER_THREAD);
    info.subgroup_size = 2 * MOE_MATVEC_THREADS;  // one row group per workgroup
    info.max_workgroup_invocations = 1024;
    g = matvec_geometry(info);
    EXPECT_EQ(g.threads, 2u * MOE_MATVEC_THREADS);
    EXPECT_EQ(g.rows_per_group, uint32_t(MOE_MATVEC_ROWS_PER_THREAD));
    EXPECT_THROW(matvec_geometry(info, {MatvecReduction::SharedMemory, 48}), Error);
}

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
