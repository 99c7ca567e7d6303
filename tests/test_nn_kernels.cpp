// Each transformer kernel (engine/runtime/kernels.h, linear.h) against the double-precision
// reference (engine/runtime/reference_ops.h), on fresh random inputs, outputs poisoned first.
// Shapes are small (the suite runs on lavapipe) but cover the edges: sizes that are not
// multiples of the workgroup sizes, in-place use, partial rotary dims, grouped-query heads with
// an odd group, contexts longer than one key block, both KV cache formats, every weight format
// the build has, and both linear paths.
#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <string_view>

#include "gpu/embedded_shaders.h"
#include "gpu/error.h"
#include "nn_config.h"
#include "quant/formats.h"
#include "runtime/kernels.h"
#include "runtime/linear.h"
#include "runtime/reference_ops.h"
#include "test_support.h"

namespace moevk::runtime {
namespace {

using test::all_close;
using test::device_buffer;
using test::poisoned_buffer;
using test::random_floats;

class NnKernels : public test::GpuTest {};

std::vector<double> to_double(const std::vector<float>& v) {
    return {v.begin(), v.end()};
}

void run(gpu::Context& ctx, const std::function<void(gpu::CommandBuffer&)>& record) {
    gpu::CommandBuffer cb(ctx, ctx.compute_queue());
    cb.begin();
    record(cb);
    cb.submit_and_wait();
}

// Weight formats that have a variant of the shader `op`_<format> in this build, so the tests
// follow the formats weights.glsl and MOEVK_WEIGHT_FORMATS offer without being edited.
std::vector<quant::WeightFormat> built_formats(std::string_view op) {
    std::vector<quant::WeightFormat> formats;
    std::string prefix = std::string(op) + "_";
    for (const gpu::EmbeddedShader& s : gpu::embedded_shaders()) {
        std::string_view name = s.name;
        if (name.substr(0, prefix.size()) != prefix) continue;
        auto format = quant::parse_format(name.substr(prefix.size()));
        if (!format) {
            ADD_FAILURE() << "shader " << name
                          << " names a format quant::parse_format does not know";
            continue;
        }
        formats.push_back(*format);
    }
    return formats;
}

// f16 values as the cache stores them, two per word.
std::vector<uint32_t> pack_halves(const std::vector<float>& v) {
    std::vector<uint32_t> words(v.size() / 2);
    for (size_t i = 0; i < words.size(); ++i)
        words[i] = uint32_t(quant::float_to_half(v[2 * i])) |
                   uint32_t(quant::float_to_half(v[2 * i + 1])) << 16;
    return words;
}
std::vector<double> unpack_halves(const std::vector<uint32_t>& words) {
    std::vector<double> v(words.size() * 2);
    for (size_t i = 0; i < words.size(); ++i) {
        v[2 * i] = quant::half_to_float(static_cast<uint16_t>(words[i] & 0xFFFFu));
        v[2 * i + 1] = quant::half_to_float(static_cast<uint16_t>(words[i] >> 16));
    }
    return v;
}

// ---------------------------------------------------------------------------------------------
// rmsnorm

TEST_F(NnKernels, RmsnormMatchesReference) {
    struct Case {
        uint32_t rows, n;
    };
    // Per-layer norm shapes, and a per-head Q/K norm: 7 tokens x 4 heads of 128.
    for (Case s : {Case{1, 32}, Case{1, 257}, Case{1, 2048}, Case{7, 32}, Case{7, 257},
                   Case{7, 2048}, Case{28, 128}}) {
        for (bool in_place : {false, true}) {
            SCOPED_TRACE(testing::Message()
                         << "rows=" << s.rows << " n=" << s.n << (in_place ? " in place" : ""));
            size_t count = size_t(s.rows) * s.n;
            std::vector<float> x = random_floats(count, s.rows * 1000 + s.n, -2, 2);
            std::vector<float> weight = random_floats(s.n, s.n + 1, 0.5f, 1.5f);
            const float eps = 1e-6f;
            gpu::Buffer xb = device_buffer(ctx(), x, "x"),
                        wb = device_buffer(ctx(), weight, "weight");
            gpu::Buffer out = poisoned_buffer(ctx(), count, "out");
            Address dst = in_place ? xb.address() : out.address();
            run(ctx(), [&](gpu::CommandBuffer& cb) {
                record_rmsnorm(cb, ctx(), xb.address(), wb.address(), dst, s.rows, s.n, eps);
            });
            std::vector<double> want = to_double(x);
            ref::rmsnorm(want, s.rows, s.n, weight, eps);
            EXPECT_TRUE(
                all_close(gpu::download<float>(ctx(), in_place ? xb : out, count), want, 1e-5));
        }
    }
}

TEST_F(NnKernels, RmsnormRowsContinuePast65535Workgroups) {
    // More rows than one grid dimension holds: the recorder continues them in y.
    const uint32_t rows = NN_GROUPS_X + 3, n = 2;
    std::vector<float> x = random_floats(size_t(rows) * n, 8, -2, 2), weight = {0.75f, 1.25f};
    gpu::Buffer xb = device_buffer(ctx(), x, "x"), wb = device_buffer(ctx(), weight, "weight");
    gpu::Buffer out = poisoned_buffer(ctx(), x.size(), "out");
    run(ctx(), [&](gpu::CommandBuffer& cb) {
        record_rmsnorm(cb, ctx(), xb.address(), wb.address(), out.address(), rows, n, 1e-5f);
    });
    std::vector<double> want = to_double(x);
    ref::rmsnorm(want, rows, n, weight, 1e-5);
    EXPECT_TRUE(all_close(gpu::download<float>(ctx(), out, x.size()), want, 1e-5));
}

// ---------------------------------------------------------------------------------------------
// rope

// theta = pos * freq is formed in f32 (as llama.cpp and Hugging Face do), so it is off by up to
// about an ulp of the largest angle, pos * 2^-23 radians, and cos/sin add their own rounding:
// allow three ulp of the largest angle on top of f32 rounding of the result.
double rope_tolerance(uint32_t max_pos) {
    return 2e-6 + 3.0 * max_pos * std::ldexp(1.0, -23);
}

TEST_F(NnKernels, RopeMatchesReference) {
    struct Case {
        uint32_t tokens, heads, head_dim, n_rot, pos0;
        float base;
    };
    std::vector<Case> cases = {
        {1, 2, 64, 64, 0, 10000.0f},     // decode at position 0: the identity
        {7, 3, 128, 128, 37, 1e6f},      // Qwen3's base
        {5, 4, 80, 32, 11, 10000.0f},    // partial rotary dims (n_rot < head_dim)
        {3, 1, 64, 2, 5, 10000.0f},      // one pair only
        {9, 2, 96, 64, 100, 500000.0f},  // llama 3's base
    };
    for (const Case& s : cases) {
        for (bool neox : {false, true}) {
            SCOPED_TRACE(testing::Message()
                         << "T=" << s.tokens << " heads=" << s.heads << " hd=" << s.head_dim
                         << " n_rot=" << s.n_rot << " pos0=" << s.pos0 << " base=" << s.base
                         << (neox ? " neox" : " normal"));
            size_t count = size_t(s.tokens) * s.heads * s.head_dim;
            std::vector<float> x = random_floats(count, count + s.pos0 + neox);
            gpu::Buffer xb = device_buffer(ctx(), x, "x");
            run(ctx(), [&](gpu::CommandBuffer& cb) {
                record_rope(cb, ctx(), xb.address(), s.tokens, s.heads, s.head_dim, s.n_rot, s.pos0,
                            s.base, neox);
            });
            std::vector<double> want = to_double(x);
            ref::rope(want, s.tokens, s.heads, s.head_dim, s.n_rot, s.pos0, s.base, neox);
            std::vector<float> got = gpu::download<float>(ctx(), xb, count);
            EXPECT_TRUE(all_close(got, want, rope_tolerance(s.pos0 + s.tokens - 1)));
            // Dims past n_rot are not touched at all.
            size_t untouched = 0, changed = 0;
            for (size_t h = 0; h < size_t(s.tokens) * s.heads; ++h)
                for (size_t d = s.n_rot; d < s.head_dim; ++d, ++untouched)
                    changed += got[h * s.head_dim + d] != x[h * s.head_dim + d];
            EXPECT_EQ(changed, 0u) << "of " << untouched << " dims past n_rot";
        }
    }
}

// YaRN's numbers for gpt-oss-20b (factor 32 over an original context of 4096, 64 rotary dims,
// base 150000, llama.cpp's beta_fast 32 and beta_slow 1), worked out by hand from ggml's
// ggml_rope_yarn_corr_dim: 64 ln(4096 / (32 * 2 pi)) / (2 ln 150000) = 8.09 -> floor 8, and
// 64 ln(4096 / (2 pi)) / (2 ln 150000) = 17.39 -> ceil 18; the magnitude 1 + 0.1 ln 32.
TEST_F(NnKernels, YarnParametersAreLlamaCppsForGptOss) {
    model::RopeScaling yarn{.kind = model::RopeScalingKind::Yarn, .factor = 32.0f, .original_context = 4096};
    RopeScalingParams p = rope_scaling_params(yarn, 64, 150000.0f);
    EXPECT_FLOAT_EQ(p.freq_scale, 1.0f / 32.0f);
    EXPECT_EQ(p.ext_factor, 1.0f);
    EXPECT_EQ(p.corr_low, 8.0f);
    EXPECT_EQ(p.corr_high, 18.0f);
    EXPECT_NEAR(p.mscale, 1.0 + 0.1 * std::log(32.0), 1e-6);
    // Linear scaling only interpolates; none changes nothing.
    RopeScalingParams linear = rope_scaling_params({.kind = model::RopeScalingKind::Linear, .factor = 2.0f}, 64, 1e4f);
    EXPECT_EQ(linear.freq_scale, 0.5f);
    EXPECT_EQ(linear.ext_factor, 0.0f);
    EXPECT_EQ(linear.mscale, 1.0f);
    EXPECT_FALSE(rope_scaling_params({}, 64, 1e4f).scales());
}

TEST_F(NnKernels, RopeWithYarnAndLinearScalingMatchesReference) {
    struct Case {
        model::RopeScaling scaling;
        uint32_t tokens, heads, head_dim, n_rot, pos0;
        float base;
    };
    const std::vector<Case> cases = {
        {{.kind = model::RopeScalingKind::Yarn, .factor = 4.0f, .original_context = 64}, 9, 2, 32, 32, 3, 10000.0f},
        {{.kind = model::RopeScalingKind::Yarn, .factor = 32.0f, .original_context = 4096}, 3, 2, 64, 64, 5000,
         150000.0f},
        {{.kind = model::RopeScalingKind::Yarn, .factor = 8.0f, .original_context = 256, .attn_factor = 0.9f}, 4, 3,
         80, 48, 17, 10000.0f},  // partial rotary dims, a file's attn_factor
        {{.kind = model::RopeScalingKind::Linear, .factor = 2.0f}, 5, 2, 64, 64, 40, 10000.0f},
    };
    for (const Case& s : cases) {
        const RopeScalingParams p = rope_scaling_params(s.scaling, s.n_rot, s.base);
        for (bool neox : {false, true}) {
            SCOPED_TRACE(testing::Message() << "factor=" << s.scaling.factor << " pos0=" << s.pos0 << " n_rot=" << s.n_rot
                                            << (neox ? " neox" : " normal"));
            size_t count = size_t(s.tokens) * s.heads * s.head_dim;
            std::vector<float> x = random_floats(count, count + s.pos0 + neox + 7);
            gpu::Buffer xb = device_buffer(ctx(), x, "x");
            run(ctx(), [&](gpu::CommandBuffer& cb) {
                record_rope(cb, ctx(), xb.address(), s.tokens, s.heads, s.head_dim, s.n_rot, s.pos0, s.base, neox, p);
            });
            std::vector<double> want = to_double(x);
            ref::rope(want, s.tokens, s.heads, s.head_dim, s.n_rot, s.pos0, s.base, neox, p);
            EXPECT_TRUE(all_close(gpu::download<float>(ctx(), xb, count), want,
                                  p.mscale * rope_tolerance(s.pos0 + s.tokens - 1)));
            // The scaling changed the rotation: the unscaled reference is far from it.
            std::vector<double> plain = to_double(x);
            ref::rope(plain, s.tokens, s.heads, s.head_dim, s.n_rot, s.pos0, s.base, neox);
            double diff = 0;
            for (size_t i = 0; i < count; ++i) diff = std::max(diff, std::abs(plain[i] - want[i]));
            EXPECT_GT(diff, 1e-2);
        }
    }
}

TEST_F(NnKernels, RopeAtLongPositionsKeepsF32Accuracy) {
    // At position 30000 an f32 angle is only good to ~2e-3 rad; the kernel must not lose more
    // than the f32 angle does (cos/sin of large arguments are where devices differ).
    const uint32_t tokens = 3, heads = 2, head_dim = 64, pos0 = 30000;
    std::vector<float> x = random_floats(size_t(tokens) * heads * head_dim, 4);
    gpu::Buffer xb = device_buffer(ctx(), x, "x");
    for (bool neox : {false, true}) {
        gpu::upload(ctx(), xb, x);
        run(ctx(), [&](gpu::CommandBuffer& cb) {
            record_rope(cb, ctx(), xb.address(), tokens, heads, head_dim, head_dim, pos0, 10000.0f,
                        neox);
        });
        std::vector<double> want = to_double(x);
        ref::rope(want, tokens, heads, head_dim, head_dim, pos0, 10000.0, neox);
        EXPECT_TRUE(all_close(gpu::download<float>(ctx(), xb, x.size()), want,
                              rope_tolerance(pos0 + tokens - 1)))
            << (neox ? "neox" : "normal");
    }
}

// ---------------------------------------------------------------------------------------------
// KV cache store

// The f16 conversion's rounding is the device's choice (to nearest even, or toward zero), so a
// stored half must be one of the two halves around the value, and the nearest one for the
// values that are exact in f16.
bool is_f16_rounding_of(uint16_t got, float value) {
    uint16_t nearest = quant::float_to_half(value);
    if (got == nearest) return true;
    float g = quant::half_to_float(got), n = quant::half_to_float(nearest);
    if (n == value) return false;
    // Toward zero: the half just below |value|, same sign, one step from the nearest.
    bool below = std::fabs(g) < std::fabs(value) && std::signbit(g) == std::signbit(value);
    return below && std::abs(int(got & 0x7FFF) - int(nearest & 0x7FFF)) == 1;
}

TEST_F(NnKernels, StoreKvWritesOnlyItsRows) {
    struct Case {
        uint32_t tokens, pos0, row;
    };
    for (KvFormat format : {KvFormat::F32, KvFormat::F16}) {
        for (Case s : {Case{1, 0, 64}, Case{3, 5, 64}, Case{7, 2, 6}, Case{4, 9, 258}}) {
            SCOPED_TRACE(testing::Message() << kv_format_name(format) << " T=" << s.tokens
                                            << " pos0=" << s.pos0 << " row=" << s.row);
            const uint32_t n_ctx = s.pos0 + s.tokens + 3;
            std::vector<float> src =
                random_floats(size_t(s.tokens) * s.row, s.tokens * 7 + s.row, -3, 3);
            size_t cache_words = kv_bytes(format, size_t(n_ctx) * s.row) / 4;
            gpu::Buffer sb = device_buffer(ctx(), src, "src"),
                        cache = poisoned_buffer(ctx(), cache_words, "cache");
            run(ctx(), [&](gpu::CommandBuffer& cb) {
                record_store_kv(cb, ctx(), sb.address(), cache.address(), format, s.tokens, s.pos0,
                                s.row);
            });
            std::vector<uint32_t> got = gpu::download<uint32_t>(ctx(), cache, cache_words);
            size_t per_word = format == KvFormat::F16 ? 2 : 1;
            size_t first = size_t(s.pos0) * s.row / per_word, end = first + src.size() / per_word;
            size_t poison_lost = 0, wrong = 0;
            for (size_t w = 0; w < cache_words; ++w) {
                if (w < first || w >= end) {
                    poison_lost += got[w] != test::kPoison;
                } else if (format == KvFormat::F32) {
                    wrong += std::bit_cast<float>(got[w]) != src[w - first];
                } else {
                    size_t i = 2 * (w - first);
                    wrong += !is_f16_rounding_of(static_cast<uint16_t>(got[w] & 0xFFFFu), src[i]) ||
                             !is_f16_rounding_of(static_cast<uint16_t>(got[w] >> 16), src[i + 1]);
                }
            }
            EXPECT_EQ(wrong, 0u);
            EXPECT_EQ(poison_lost, 0u) << "words outside rows pos0 .. pos0 + T were written";
        }
    }
}

// ---------------------------------------------------------------------------------------------
// attention

struct AttentionCase {
    uint32_t tokens, pos0, heads, kv_heads, head_dim;
    float q_range = 1.0f;  // wider q: a peakier softmax
    uint32_t window = 0;   // sliding window (0: full)
    bool sinks = false;    // a learned logit per head in the denominator (gpt-oss)
};

std::ostream& operator<<(std::ostream& os, const AttentionCase& s) {
    return os << "T=" << s.tokens << " pos0=" << s.pos0 << " heads=" << s.heads
              << " kv_heads=" << s.kv_heads << " hd=" << s.head_dim << " q_range=" << s.q_range
              << " window=" << s.window << (s.sinks ? " sinks" : "");
}

const std::vector<AttentionCase> kAttentionCases = {
    {1, 0, 4, 4, 32},      // decode, first position
    {1, 37, 4, 2, 128},    // decode, GQA 2
    {7, 0, 8, 2, 32},      // prefill from empty, GQA 4
    {7, 5, 4, 1, 128},     // prefill after 5 cached, GQA 4
    {7, 5, 4, 4, 128},     // same without GQA
    {3, 2, 3, 1, 32},      // odd group: 3 heads on one kv head
    {2, 150, 2, 1, 64},    // three key blocks
    {70, 0, 2, 1, 32},     // prefill whose later tokens span two blocks
    {1, 70, 2, 1, 256},    // the largest head_dim
    {4, 64, 2, 2, 72, 4},  // head_dim not a multiple of the workgroup, block edge at 64, peaky
    // Sliding windows and sinks (gpt-oss).
    {1, 37, 4, 2, 128, 1, 8},          // decode far past the window
    {7, 5, 4, 1, 64, 1, 4, true},      // a prefill whose window moves with each token
    {9, 0, 2, 1, 32, 1, 16},           // a window larger than the context
    {1, 0, 4, 4, 32, 1, 1, true},      // a window of one: the token itself, and the sink
    {2, 150, 2, 1, 64, 1, 100, true},  // a window across key blocks
    {3, 2, 3, 1, 32, 3, 0, true},      // sinks with full attention, a peaky softmax
    {70, 0, 2, 1, 32, 1, 65},          // later tokens' windows start past the first block
};

// Runs attention over caches that hold positions 0 .. pos0 + T - 1 of random K and V, with
// poisoned positions after them (a kernel that reads past the causal limit turns NaN).
void check_attention(gpu::Context& ctx, KvFormat format, const AttentionCase& s) {
    const size_t kv_row = size_t(s.kv_heads) * s.head_dim, n_pos = s.pos0 + s.tokens,
                 n_ctx = n_pos + 5;
    const float scale = 1.0f / std::sqrt(float(s.head_dim));
    uint64_t seed = s.tokens * 131 + s.pos0 * 7 + s.heads + s.head_dim;
    std::vector<float> q =
        random_floats(size_t(s.tokens) * s.heads * s.head_dim, seed, -s.q_range, s.q_range);
    std::vector<float> k = random_floats(n_pos * kv_row, seed + 1),
                       v = random_floats(n_pos * kv_row, seed + 2);
    // Positions before every token's window are NaN: a kernel that reads one turns NaN.
    const size_t hidden = s.window && s.pos0 + 1 > s.window ? s.pos0 + 1 - s.window : 0;
    std::fill_n(k.begin(), hidden * kv_row, std::numeric_limits<float>::quiet_NaN());
    std::fill_n(v.begin(), hidden * kv_row, std::numeric_limits<float>::quiet_NaN());
    std::vector<double> k_ref = to_double(k), v_ref = to_double(v);
    std::vector<float> sinks = s.sinks ? random_floats(s.heads, seed + 3, -2.0f, 2.0f) : std::vector<float>{};
    gpu::Buffer sinks_buffer = s.sinks ? device_buffer(ctx, sinks, "sinks") : gpu::Buffer{};

    size_t cache_words = kv_bytes(format, n_ctx * kv_row) / 4;
    gpu::Buffer kb = poisoned_buffer(ctx, cache_words, "k cache"),
                vb = poisoned_buffer(ctx, cache_words, "v cache");
    if (format == KvFormat::F32) {
        gpu::upload(ctx, kb, k);
        gpu::upload(ctx, vb, v);
    } else {
        // The reference sees the cache as stored: rounded to f16.
        std::vector<uint32_t> kw = pack_halves(k), vw = pack_halves(v);
        gpu::upload(ctx, kb, kw);
        gpu::upload(ctx, vb, vw);
        k_ref = unpack_halves(kw);
        v_ref = unpack_halves(vw);
    }
    gpu::Buffer qb = device_buffer(ctx, q, "q"), out = poisoned_buffer(ctx, q.size(), "out");
    run(ctx, [&](gpu::CommandBuffer& cb) {
        record_attention(cb, ctx, qb.address(), kb.address(), vb.address(), format, out.address(),
                         s.tokens, s.pos0, s.heads, s.kv_heads, s.head_dim, scale, s.window,
                         s.sinks ? sinks_buffer.address() : 0);
    });
    auto want = ref::attention(to_double(q), k_ref, v_ref, s.tokens, s.pos0, s.heads, s.kv_heads,
                               s.head_dim, scale, s.window, sinks);
    EXPECT_TRUE(all_close(gpu::download<float>(ctx, out, q.size()), want, 1e-5));
}

TEST_F(NnKernels, AttentionF32CacheMatchesReference) {
    for (const AttentionCase& s : kAttentionCases) {
        SCOPED_TRACE(testing::Message() << s);
        check_attention(ctx(), KvFormat::F32, s);
    }
}

TEST_F(NnKernels, AttentionF16CacheMatchesReferenceOnRoundedKv) {
    for (const AttentionCase& s : kAttentionCases) {
        SCOPED_TRACE(testing::Message() << s);
        check_attention(ctx(), KvFormat::F16, s);
    }
}

TEST_F(NnKernels, PrefillThenDecodeThroughTheCache) {
    // The way a forward pass uses them: store the new K/V rows, barrier, attend; a 6-token
    // prefill, then three single-token decode steps, against the reference on what was stored.
    const uint32_t heads = 4, kv_heads = 2, head_dim = 64, n_ctx = 16, prefill = 6, steps = 3;
    const uint32_t kv_row = kv_heads * head_dim;
    const float scale = 0.125f;
    for (KvFormat format : {KvFormat::F32, KvFormat::F16}) {
        SCOPED_TRACE(kv_format_name(format));
        size_t cache_words = kv_bytes(format, size_t(n_ctx) * kv_row) / 4;
        gpu::Buffer kc = poisoned_buffer(ctx(), cache_words, "k cache"),
                    vc = poisoned_buffer(ctx(), cache_words, "v cache");
        uint32_t pos = 0;
        for (uint32_t tokens : {prefill, 1u, 1u, 1u}) {
            SCOPED_TRACE(testing::Message() << "pos0=" << pos << " T=" << tokens);
            std::vector<float> q = random_floats(size_t(tokens) * heads * head_dim, 40 + pos);
            std::vector<float> k = random_floats(size_t(tokens) * kv_row, 50 + pos),
                               v = random_floats(k.size(), 60 + pos);
            gpu::Buffer qb = device_buffer(ctx(), q, "q"), kb = device_buffer(ctx(), k, "k"),
                        vb = device_buffer(ctx(), v, "v");
            gpu::Buffer out = poisoned_buffer(ctx(), q.size(), "out");
            run(ctx(), [&](gpu::CommandBuffer& cb) {
                record_store_kv(cb, ctx(), kb.address(), kc.address(), format, tokens, pos, kv_row);
                record_store_kv(cb, ctx(), vb.address(), vc.address(), format, tokens, pos, kv_row);
                cb.barrier();
                record_attention(cb, ctx(), qb.address(), kc.address(), vc.address(), format,
                                 out.address(), tokens, pos, heads, kv_heads, head_dim, scale);
            });
            size_t stored_words = kv_bytes(format, size_t(pos + tokens) * kv_row) / 4;
            auto cached = [&](const gpu::Buffer& b) {
                std::vector<uint32_t> w = gpu::download<uint32_t>(ctx(), b, stored_words);
                if (format == KvFormat::F16) return unpack_halves(w);
                std::vector<double> d(w.size());
                for (size_t i = 0; i < w.size(); ++i) d[i] = std::bit_cast<float>(w[i]);
                return d;
            };
            auto want = ref::attention(to_double(q), cached(kc), cached(vc), tokens, pos, heads,
                                       kv_heads, head_dim, scale);
            EXPECT_TRUE(all_close(gpu::download<float>(ctx(), out, q.size()), want, 1e-5));
            pos += tokens;
        }
        EXPECT_EQ(pos, prefill + steps);
    }
}

// ---------------------------------------------------------------------------------------------
// embed, add

TEST_F(NnKernels, EmbedReadsEveryWeightFormat) {
    std::vector<quant::WeightFormat> formats = built_formats("embed");
    ASSERT_GE(formats.size(), 3u);
    for (quant::WeightFormat format : formats) {
        size_t block = quant::block_values(format);
        // Odd rows for formats without blocks (f16 rows then start mid-word), else whole blocks.
        for (uint32_t n :
             {block == 1 ? 33u : uint32_t(block), uint32_t(std::max<size_t>(block, 32) * 3)}) {
            SCOPED_TRACE(testing::Message() << quant::format_name(format) << " n=" << n);
            const uint32_t n_vocab = 50;
            std::vector<uint32_t> ids = {0, 49, 7, 7, 23, 1, 48, 0, 31};
            const uint32_t tokens = static_cast<uint32_t>(ids.size());
            std::vector<float> values = random_floats(size_t(n_vocab) * n, n + block, -2, 2);
            std::vector<uint8_t> bytes = quant::encode_matrix(format, values, n_vocab, n);
            std::vector<float> table = quant::decode_matrix(format, bytes, n_vocab, n);
            bytes.resize((bytes.size() + 3) / 4 * 4);
            gpu::Buffer tb = device_buffer(ctx(), bytes, "table"),
                        ib = device_buffer(ctx(), ids, "ids");
            gpu::Buffer out = poisoned_buffer(ctx(), size_t(tokens) * n, "out");
            run(ctx(), [&](gpu::CommandBuffer& cb) {
                record_embed(cb, ctx(), format, tb.address(), ib.address(), out.address(), tokens,
                             n);
            });
            std::vector<double> want;
            for (uint32_t id : ids)
                want.insert(want.end(), &table[size_t(id) * n], &table[size_t(id + 1) * n]);
            EXPECT_TRUE(all_close(gpu::download<float>(ctx(), out, want.size()), want, 1e-6));
        }
    }
}

TEST_F(NnKernels, AddIsElementwise) {
    for (uint32_t count : {1u, 1000u, 4096u * 7u + 3u}) {
        SCOPED_TRACE(testing::Message() << "count=" << count);
        std::vector<float> x = random_floats(count, count), y = random_floats(count, count + 1);
        gpu::Buffer xb = device_buffer(ctx(), x, "x"), yb = device_buffer(ctx(), y, "y");
        run(ctx(), [&](gpu::CommandBuffer& cb) {
            record_add(cb, ctx(), xb.address(), yb.address(), count);
        });
        std::vector<double> want(count);
        for (uint32_t i = 0; i < count; ++i) want[i] = double(x[i]) + y[i];
        EXPECT_TRUE(all_close(gpu::download<float>(ctx(), xb, count), want, 1e-6));
        EXPECT_EQ(gpu::download<float>(ctx(), yb, count), y) << "y must be left as it was";
    }
}

TEST_F(NnKernels, ElementwiseCountsContinuePast65535Workgroups) {
    // More elements than 65535 workgroups of NN_ELEMENTWISE_THREADS hold: the flat index goes on
    // in y. Checked on add, which shares the dispatch with rope, store_kv and embed.
    const uint32_t count = NN_GROUPS_X * NN_ELEMENTWISE_THREADS + 300;
    std::vector<float> x(count), y(count);
    for (uint32_t i = 0; i < count; ++i) {
        x[i] = float(i % 1000);
        y[i] = float(i / 1000);
    }
    gpu::Buffer xb = device_buffer(ctx(), x, "x"), yb = device_buffer(ctx(), y, "y");
    run(ctx(),
        [&](gpu::CommandBuffer& cb) { record_add(cb, ctx(), xb.address(), yb.address(), count); });
    std::vector<float> got = gpu::download<float>(ctx(), xb, count);
    size_t wrong = 0;
    for (uint32_t i = 0; i < count; ++i) wrong += got[i] != x[i] + y[i];  // small integers: exact
    EXPECT_EQ(wrong, 0u);
}

// ---------------------------------------------------------------------------------------------
// linear

TEST_F(NnKernels, LinearMatvecAndGemmMatchReference) {
    std::vector<quant::WeightFormat> formats = built_formats("expert_matvec_down");
    ASSERT_GE(formats.size(), 3u);
    const uint32_t max_tokens = 64;
    LinearWorkspace ws(ctx(), max_tokens);
    for (quant::WeightFormat format : formats) {
        size_t block = quant::block_values(format);
        uint32_t n_in = block == 1 ? 100u : uint32_t((96 + block - 1) / block * block);
        for (uint32_t n_out : {70u, 130u}) {
            std::vector<float> values = random_floats(size_t(n_out) * n_in, n_out + n_in + block);
            std::vector<uint8_t> bytes = quant::encode_matrix(format, values, n_out, n_in);
            std::vector<float> w = quant::decode_matrix(format, bytes, n_out, n_in);
            // The matrix sits 36 bytes into a larger buffer, as a tensor inside a model file does.
            const size_t offset = 36;
            gpu::Buffer file =
                poisoned_buffer(ctx(), (offset + bytes.size()) / 4 + 16, "file section");
            gpu::upload(ctx(), file, bytes.data(), bytes.size(), offset);
            LinearWeight weight(ctx(), format, file.address() + offset, n_in, n_out);
            for (uint32_t tokens : {1u, 2u, 17u, 64u}) {
                std::vector<float> x = random_floats(size_t(tokens) * n_in, tokens + n_out);
                gpu::Buffer xb = device_buffer(ctx(), x, "x");
                auto want = ref::linear(to_double(x), tokens, w, n_in, n_out);
                // Threshold 0: the GEMM even for one token; max_tokens: matvec for all.
                for (uint32_t threshold : {kLinearMatvecMaxTokens, 0u, max_tokens}) {
                    bool matvec = linear_uses_matvec(tokens, threshold);
                    SCOPED_TRACE(testing::Message()
                                 << quant::format_name(format) << " n_in=" << n_in << " n_out="
                                 << n_out << " T=" << tokens << (matvec ? " matvec" : " gemm"));
                    gpu::Buffer y = poisoned_buffer(ctx(), size_t(tokens) * n_out + 64, "y");
                    run(ctx(), [&](gpu::CommandBuffer& cb) {
                        record_linear(cb, ctx(), weight, ws, xb.address(), y.address(), tokens,
                                      threshold);
                    });
                    std::vector<float> got =
                        gpu::download<float>(ctx(), y, size_t(tokens) * n_out + 64);
                    std::vector<float> past(got.begin() + size_t(tokens) * n_out, got.end());
                    got.resize(size_t(tokens) * n_out);
                    EXPECT_TRUE(all_close(got, want, 2e-5));
                    EXPECT_TRUE(std::all_of(past.begin(), past.end(), [](float f) {
                        return std::isnan(f);
                    })) << "wrote past y[T][n_out]";
                }
            }
        }
    }
}

// A bias (Qwen2's and gpt-oss's attention biases) is added in the kernel's epilogue, on the
// matrix-vector path and the GEMM path alike.
TEST_F(NnKernels, LinearAddsItsBiasOnBothPaths) {
    const uint32_t n_in = 96, n_out = 70, max_tokens = 17;
    LinearWorkspace ws(ctx(), max_tokens);
    std::vector<float> w = random_floats(size_t(n_out) * n_in, 3);
    std::vector<uint8_t> bytes = quant::encode_matrix(quant::WeightFormat::F32, w, n_out, n_in);
    gpu::Buffer wb = poisoned_buffer(ctx(), bytes.size() / 4, "w");
    gpu::upload(ctx(), wb, bytes.data(), bytes.size());
    LinearWeight weight(ctx(), quant::WeightFormat::F32, wb.address(), n_in, n_out);
    std::vector<float> bias = random_floats(n_out, 4, -3.0f, 3.0f);
    gpu::Buffer bb = device_buffer(ctx(), bias, "bias");
    for (uint32_t tokens : {1u, 17u}) {
        std::vector<float> x = random_floats(size_t(tokens) * n_in, 5 + tokens);
        gpu::Buffer xb = device_buffer(ctx(), x, "x");
        std::vector<double> want = ref::linear(to_double(x), tokens, w, n_in, n_out);
        for (size_t i = 0; i < want.size(); ++i) want[i] += bias[i % n_out];
        for (uint32_t threshold : {0u, max_tokens}) {
            SCOPED_TRACE(testing::Message() << "T=" << tokens << " threshold=" << threshold);
            gpu::Buffer y = poisoned_buffer(ctx(), size_t(tokens) * n_out, "y");
            run(ctx(), [&](gpu::CommandBuffer& cb) {
                record_linear(cb, ctx(), weight, ws, xb.address(), y.address(), tokens, threshold, bb.address());
            });
            EXPECT_TRUE(all_close(gpu::download<float>(ctx(), y, size_t(tokens) * n_out), want, 2e-5));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// bad arguments

template <class F>
void expect_invalid(F&& f, const std::string& mentions) {
    try {
        f();
        ADD_FAILURE() << "no error; expected one mentioning '" << mentions << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument) << e.what();
        EXPECT_NE(std::string(e.what()).find(mentions), std::string::npos) << e.what();
    }
}

TEST_F(NnKernels, RecordersRejectShapesTheKernelsCannotRun) {
    gpu::Buffer b = poisoned_buffer(ctx(), 1024, "scratch");
    Address a = b.address();
    gpu::CommandBuffer cb(ctx(), ctx().compute_queue());
    cb.begin();
    expect_invalid([&] { record_rmsnorm(cb, ctx(), a, a, a, 4, 0, 1e-6f); }, "n must be positive");
    expect_invalid([&] { record_rmsnorm(cb, ctx(), a, a, a, 4, 8, -1.0f); }, "eps");
    expect_invalid([&] { record_rmsnorm(cb, ctx(), 0, a, a, 4, 8, 1e-6f); }, "x is a null");
    expect_invalid([&] { record_rope(cb, ctx(), a, 1, 2, 64, 63, 0, 1e4f, false); }, "63");
    expect_invalid([&] { record_rope(cb, ctx(), a, 1, 2, 64, 66, 0, 1e4f, true); }, "66");
    expect_invalid([&] { record_rope(cb, ctx(), a, 1, 2, 64, 64, 0, 0.0f, true); }, "freq_base");
    expect_invalid([&] { record_rope(cb, ctx(), a, 2, 2, 64, 64, (1u << 24) - 1, 1e4f, true); },
                   "2^24");
    expect_invalid([&] { record_store_kv(cb, ctx(), a, a, KvFormat::F16, 1, 0, 7); }, "7");
    expect_invalid([&] { record_store_kv(cb, ctx(), a, a + 2, KvFormat::F32, 1, 0, 8); },
                   "not 4-byte aligned");
    expect_invalid(
        [&] { record_attention(cb, ctx(), a, a, a, KvFormat::F32, a, 1, 0, 4, 2, 257, 1.0f); },
        "257");
    expect_invalid(
        [&] { record_attention(cb, ctx(), a, a, a, KvFormat::F32, a, 1, 0, 4, 3, 64, 1.0f); },
        "n_kv_heads must divide n_heads (4), got 3");
    expect_invalid(
        [&] { record_attention(cb, ctx(), a, a, a, KvFormat::F16, a, 1, 0, 4, 2, 33, 1.0f); },
        "33");
    expect_invalid(
        [&] { record_attention(cb, ctx(), a, a, a, KvFormat::F32, a, 70000, 0, 4, 2, 64, 1.0f); },
        "70000");
    expect_invalid([&] { record_embed(cb, ctx(), quant::WeightFormat::Q8_0, a, a, a, 1, 33); },
                   "33");
    expect_invalid([&] { record_add(cb, ctx(), a, 0, 16); }, "y is a null");
    expect_invalid([&] { LinearWeight(ctx(), quant::WeightFormat::F32, a + 2, 8, 8); }, "aligned");
    expect_invalid([&] { LinearWeight(ctx(), quant::WeightFormat::Q8_0, a, 48, 8); }, "48");
    expect_invalid([&] { LinearWorkspace(ctx(), 0); }, "max_tokens");
    LinearWeight w(ctx(), quant::WeightFormat::F32, a, 8, 8);
    LinearWorkspace ws(ctx(), 4);
    expect_invalid([&] { record_linear(cb, ctx(), w, ws, a, a, 5); }, "1..4");
    cb.end();
}

}  // namespace
}  // namespace moevk::runtime
