// The CPU side of the weight formats: float <-> half conversion (exhaustive where the space is
// small enough), the Q8_0 and MXFP4 block layouts as GGUF stores them, and the size and name
// helpers. No GPU.
#include <gtest/gtest.h>

#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <algorithm>

#include "gpu/error.h"
#include "quant/formats.h"
#include "quant/ggml_types.h"

namespace moevk::quant {
namespace {

bool is_half_nan(uint16_t h) {
    return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0;
}

// --- half ------------------------------------------------------------------------------------

TEST(Half, EveryNonNanPatternRoundTripsExactly) {
    int checked = 0;
    for (uint32_t bits = 0; bits <= 0xFFFFu; ++bits) {
        uint16_t h = static_cast<uint16_t>(bits);
        if (is_half_nan(h)) continue;
        float f = half_to_float(h);
        ASSERT_EQ(float_to_half(f), h) << "half 0x" << std::hex << bits << " -> " << f;
        ++checked;
    }
    // 2 * 31 exponents * 1024 mantissas, plus the two infinities.
    EXPECT_EQ(checked, 2 * 31 * 1024 + 2);
}

TEST(Half, NanStaysNan) {
    for (uint32_t bits = 0; bits <= 0xFFFFu; ++bits) {
        uint16_t h = static_cast<uint16_t>(bits);
        if (!is_half_nan(h)) continue;
        float f = half_to_float(h);
        ASSERT_TRUE(std::isnan(f)) << "half 0x" << std::hex << bits;
        // The payload may change (it is made quiet), but the value must stay a NaN.
        ASSERT_TRUE(is_half_nan(float_to_half(f))) << "half 0x" << std::hex << bits;
    }
    // Float NaNs whose payload sits only in the low mantissa bits, which a plain shift would drop
    // (turning the NaN into an infinity).
    for (uint32_t bits : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7F801FFFu, 0xFFFFFFFFu}) {
        uint16_t h = float_to_half(std::bit_cast<float>(bits));
        EXPECT_TRUE(is_half_nan(h)) << "float 0x" << std::hex << bits << " -> half 0x" << h;
        EXPECT_EQ(h & 0x8000u, (bits >> 16) & 0x8000u) << "sign of float 0x" << std::hex << bits;
    }
}

// Between every pair of adjacent finite halves (subnormal and normal, both signs), the exact
// midpoint is representable as a float; it must round to whichever neighbour has an even
// mantissa, and one float ulp either side of it must round to the nearer neighbour.
TEST(Half, HalfwayValuesRoundToNearestEven) {
    for (uint16_t sign : {uint16_t(0), uint16_t(0x8000)}) {
        for (uint16_t lo = 0; lo < 0x7BFF; ++lo) {
            uint16_t a = sign | lo, b = sign | uint16_t(lo + 1);
            float fa = half_to_float(a), fb = half_to_float(b);
            float mid = (fa + fb) / 2;  // exact: halves have 11 significant bits, floats 24
            ASSERT_EQ(double(mid), (double(fa) + double(fb)) / 2);
            uint16_t even = (a & 1u) == 0 ? a : b;
            ASSERT_EQ(float_to_half(mid), even) << "between 0x" << std::hex << a << " and 0x" << b;
            ASSERT_EQ(float_to_half(std::nextafter(mid, fa)), a)
                << "just above 0x" << std::hex << a;
            ASSERT_EQ(float_to_half(std::nextafter(mid, fb)), b)
                << "just below 0x" << std::hex << b;
        }
    }
}

// For arbitrary floats in the half range, the result is the nearest half: no neighbour of it is
// closer to the input.
TEST(Half, RandomFloatsRoundToTheNearestHalf) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
    std::uniform_int_distribution<int> exponent(-26, 15);
    for (int i = 0; i < 200000; ++i) {
        float x = std::ldexp(mantissa(rng), exponent(rng)) * (i % 2 ? -1.0f : 1.0f);
        if (std::fabs(x) >= 65504.0f) continue;
        uint16_t h = float_to_half(x);
        double err = std::fabs(double(half_to_float(h)) - x);
        for (int step : {-1, 1}) {
            uint16_t n = static_cast<uint16_t>(h + step);
            if ((n & 0x7FFFu) > 0x7BFFu || (n & 0x8000u) != (h & 0x8000u)) continue;
            ASSERT_LE(err, std::fabs(double(half_to_float(n)) - x))
                << x << " -> 0x" << std::hex << h << " but 0x" << n << " is closer";
        }
    }
}

TEST(Half, OverflowsToInfinityFrom65520) {
    EXPECT_EQ(half_to_float(0x7BFF), 65504.0f);  // the largest finite half
    EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);
    // 65520 is halfway between 65504 (odd mantissa) and 65536 (not representable): ties go to the
    // even side, which is the overflow to infinity.
    EXPECT_EQ(float_to_half(std::nextafter(65520.0f, 0.0f)), 0x7BFF);
    EXPECT_EQ(float_to_half(65520.0f), 0x7C00);
    EXPECT_EQ(float_to_half(-65520.0f), 0xFC00);
    EXPECT_EQ(float_to_half(std::nextafter(65520.0f, 1e9f)), 0x7C00);
    EXPECT_EQ(float_to_half(1e6f), 0x7C00);
    EXPECT_EQ(float_to_half(std::numeric_limits<float>::max()), 0x7C00);
    EXPECT_EQ(float_to_half(-std::numeric_limits<float>::max()), 0xFC00);
    EXPECT_EQ(float_to_half(std::numeric_limits<float>::infinity()), 0x7C00);
    EXPECT_EQ(float_to_half(-std::numeric_limits<float>::infinity()), 0xFC00);
    EXPECT_EQ(half_to_float(0x7C00), std::numeric_limits<float>::infinity());
    EXPECT_EQ(half_to_float(0xFC00), -std::numeric_limits<float>::infinity());
}

TEST(Half, Subnormals) {
    const float tiny = std::ldexp(1.0f, -24);  // the smallest subnormal half
    EXPECT_EQ(half_to_float(0x0001), tiny);
    EXPECT_EQ(half_to_float(0x03FF), 1023 * tiny);            // the largest subnormal
    EXPECT_EQ(half_to_float(0x0400), std::ldexp(1.0f, -14));  // the smallest normal
    EXPECT_EQ(half_to_float(0x8001), -tiny);
    EXPECT_EQ(float_to_half(tiny), 0x0001);
    EXPECT_EQ(float_to_half(-tiny), 0x8001);
    EXPECT_EQ(float_to_half(37 * tiny), 37);
    // Below half the smallest subnormal everything flushes to a zero that keeps its sign; exactly
    // half of it ties to the even zero, and anything above that rounds up to it.
    EXPECT_EQ(float_to_half(tiny / 2), 0x0000);
    EXPECT_EQ(float_to_half(std::nextafter(tiny / 2, 1.0f)), 0x0001);
    EXPECT_EQ(float_to_half(tiny / 4), 0x0000);
    EXPECT_EQ(float_to_half(-tiny / 4), 0x8000);
    EXPECT_EQ(float_to_half(1.5f * tiny), 0x0002);  // tie between 1 and 2: even is 2
    EXPECT_EQ(float_to_half(2.5f * tiny), 0x0002);  // tie between 2 and 3: even is 2
    // Float subnormals are far below the half range.
    EXPECT_EQ(float_to_half(std::numeric_limits<float>::denorm_min()), 0x0000);
    EXPECT_EQ(float_to_half(-std::numeric_limits<float>::denorm_min()), 0x8000);
    EXPECT_EQ(float_to_half(-0.0f), 0x8000);
    EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
}

// --- q8_0 ------------------------------------------------------------------------------------

float block_scale(const std::vector<uint8_t>& bytes, size_t block) {
    uint16_t h;
    std::memcpy(&h, &bytes[block * kQ8_0BlockBytes], 2);
    return half_to_float(h);
}

int8_t block_quant(const std::vector<uint8_t>& bytes, size_t block, size_t i) {
    return static_cast<int8_t>(bytes[block * kQ8_0BlockBytes + 2 + i]);
}

TEST(Q8_0, ErrorIsHalfAStepPlusTheScaleRounding) {
    const size_t rows = 6, row_len = 160;  // 5 blocks a row
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    std::vector<float> values(rows * row_len);
    // Each block gets its own magnitude, so a decoder that reads the wrong block's scale fails.
    for (size_t b = 0; b < values.size() / kQ8_0BlockValues; ++b) {
        float scale = std::ldexp(1.0f, static_cast<int>(b % 13) - 8);
        for (size_t i = 0; i < kQ8_0BlockValues; ++i)
            values[b * kQ8_0BlockValues + i] = scale * unit(rng);
    }
    std::vector<uint8_t> bytes = encode_matrix(WeightFormat::Q8_0, values, rows, row_len);
    ASSERT_EQ(bytes.size(), rows * row_len / 32 * 34);
    std::vector<float> decoded = decode_matrix(WeightFormat::Q8_0, bytes, rows, row_len);
    ASSERT_EQ(decoded.size(), values.size());

    for (size_t b = 0; b < values.size() / kQ8_0BlockValues; ++b) {
        SCOPED_TRACE(testing::Message() << "block " << b);
        float d = block_scale(bytes, b);
        ASSERT_GT(d, 0.0f);
        // As llama.cpp (and so GGUF) has it: d = max|x| / 127, stored as f16.
        float amax = 0;
        for (size_t i = 0; i < kQ8_0BlockValues; ++i)
            amax = std::max(amax, std::fabs(values[b * kQ8_0BlockValues + i]));
        EXPECT_EQ(d, half_to_float(float_to_half(amax / 127.0f)));
        // The codes are chosen for the unrounded scale and then multiply the f16 one, so the
        // error is half a step plus |q| times the f16 rounding of d (half an f16 ulp of d: about
        // 6% of a step for normal scales, more for the subnormal ones some blocks here get).
        // The last term covers float rounding in x / d.
        uint16_t h;
        std::memcpy(&h, &bytes[b * kQ8_0BlockBytes], 2);
        const double half_ulp = (double(half_to_float(uint16_t(h + 1))) - d) / 2;
        int max_code = 0;
        for (size_t i = 0; i < kQ8_0BlockValues; ++i) {
            size_t k = b * kQ8_0BlockValues + i;
            int q = block_quant(bytes, b, i);
            max_code = std::max(max_code, std::abs(q));
            EXPECT_EQ(decoded[k], d * static_cast<float>(q)) << "value " << i;
            double bound = d / 2.0 + std::abs(q) * half_ulp + 1e-4 * d;
            EXPECT_LE(std::fabs(double(decoded[k]) - values[k]), bound) << "value " << i;
        }
        // The largest magnitude in the block maps to the full code range.
        EXPECT_EQ(max_code, 127);
    }
}

TEST(Q8_0, ZeroBlockDecodesToZeros) {
    // A zero block between two non-zero ones: the zero scale must not turn into NaN (0 / 0) or
    // pick up a neighbour's scale.
    std::vector<float> values(96, 0.0f);
    for (size_t i = 0; i < 32; ++i) {
        values[i] = 0.5f + i;
        values[64 + i] = -1.0f - i;
    }
    std::vector<uint8_t> bytes = encode_matrix(WeightFormat::Q8_0, values, 1, 96);
    for (size_t i = 0; i < kQ8_0BlockBytes; ++i)
        EXPECT_EQ(bytes[kQ8_0BlockBytes + i], 0) << "byte " << i;
    std::vector<float> decoded = decode_matrix(WeightFormat::Q8_0, bytes, 1, 96);
    for (size_t i = 32; i < 64; ++i) {
        EXPECT_EQ(decoded[i], 0.0f) << i;
        EXPECT_FALSE(std::signbit(decoded[i])) << i;
    }
    EXPECT_GT(decoded[31], 0.0f);
    EXPECT_LT(decoded[95], 0.0f);

    std::vector<float> all_zero = decode_matrix(
        WeightFormat::Q8_0, encode_matrix(WeightFormat::Q8_0, std::vector<float>(64, 0.0f), 2, 32),
        2, 32);
    for (float v : all_zero) EXPECT_EQ(v, 0.0f);
}

// Two rows of two blocks built by hand as GGUF lays them out: per block a little-endian f16 scale,
// then 32 signed bytes; rows follow each other with no padding.
TEST(Q8_0, DecodesAHandBuiltBlockLayout) {
    const float scales[4] = {0.25f, -1.5f, 3.0f, 0.0078125f};
    std::vector<uint8_t> bytes;
    std::vector<float> expected;
    for (int b = 0; b < 4; ++b) {
        uint16_t h = float_to_half(scales[b]);
        ASSERT_EQ(half_to_float(h), scales[b]);  // all four are exact in f16
        bytes.push_back(static_cast<uint8_t>(h & 0xFF));
        bytes.push_back(static_cast<uint8_t>(h >> 8));
        for (int i = 0; i < 32; ++i) {
            // Covers both ends of the int8 range (-128 and 127) and the sign boundary.
            int q = (i * 8 + b * 3) % 256 - 128;
            if (i == 31) q = 127;
            bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(q)));
            expected.push_back(scales[b] * static_cast<float>(q));
        }
    }
    ASSERT_EQ(bytes.size(), 4 * kQ8_0BlockBytes);
    std::vector<float> decoded = decode_matrix(WeightFormat::Q8_0, bytes, 2, 64);
    ASSERT_EQ(decoded.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
        EXPECT_EQ(decoded[i], expected[i]) << "value " << i;
}

// The encoder writes the same layout: a block whose max is 63.5 has d = 0.5 exactly, so every
// code is x / d with no rounding.
TEST(Q8_0, EncodesTheBlockLayout) {
    std::vector<float> values(32);
    for (int i = 0; i < 32; ++i)
        values[i] = 0.5f * static_cast<float>(i * 8 - 127 + (i == 31 ? 6 : 0));
    ASSERT_EQ(values[0], -63.5f);
    std::vector<uint8_t> bytes = encode_matrix(WeightFormat::Q8_0, values, 1, 32);
    ASSERT_EQ(bytes.size(), kQ8_0BlockBytes);
    EXPECT_EQ(bytes[0], 0x00);  // f16 0.5 is 0x3800, little-endian
    EXPECT_EQ(bytes[1], 0x38);
    for (int i = 0; i < 32; ++i)
        EXPECT_EQ(static_cast<int8_t>(bytes[2 + i]), values[i] / 0.5f) << i;
}

// --- mxfp4 -----------------------------------------------------------------------------------

TEST(Mxfp4, ScaleIsTwoToTheEMinus128ForEveryE) {
    for (int e = 0; e < 256; ++e)
        ASSERT_EQ(mxfp4_scale(static_cast<uint8_t>(e)), std::ldexp(1.0f, e - 128)) << "e " << e;
    // The bit patterns ggml's GGML_E8M0_TO_FP32_HALF builds: two subnormals, then e - 1 as the
    // biased exponent; 255 is a number like any other, not a NaN.
    EXPECT_EQ(std::bit_cast<uint32_t>(mxfp4_scale(0)), 0x00200000u);
    EXPECT_EQ(std::bit_cast<uint32_t>(mxfp4_scale(1)), 0x00400000u);
    EXPECT_EQ(std::bit_cast<uint32_t>(mxfp4_scale(2)), 0x00800000u);  // the smallest normal
    EXPECT_EQ(mxfp4_scale(127), 0.5f);
    EXPECT_EQ(mxfp4_scale(128), 1.0f);
    EXPECT_EQ(std::bit_cast<uint32_t>(mxfp4_scale(254)), 0x7E800000u);
    EXPECT_EQ(std::bit_cast<uint32_t>(mxfp4_scale(255)), 0x7F000000u);
}

// The table is E2M1 doubled: bit 3 the sign, bits 2..1 the exponent (bias 1), bit 0 the
// mantissa; exponent 0 is subnormal (0 or 0.5).
TEST(Mxfp4, ValuesAreTwiceTheE2M1Codes) {
    for (int c = 0; c < 16; ++c) {
        int exponent = (c >> 1) & 3, mantissa = c & 1;
        double e2m1 =
            exponent == 0 ? 0.5 * mantissa : (1 + 0.5 * mantissa) * std::ldexp(1.0, exponent - 1);
        EXPECT_EQ(kMxfp4Values[c], (c & 8 ? -2 : 2) * e2m1) << "code " << c;
    }
}

// Five blocks in one row, at byte offsets 0, 17, 34, 51 and 68, and what ggml's
// dequantize_row_mxfp4 gives for them, worked out by hand: kvalues_mxfp4[code] * 2^(e - 128).
TEST(Mxfp4, DecodesHandComputedBlocks) {
    std::vector<uint8_t> bytes;
    auto block = [&](uint8_t e, const uint8_t (&codes)[32]) {
        bytes.push_back(e);
        for (int j = 0; j < 16; ++j)
            bytes.push_back(static_cast<uint8_t>(codes[j] | (codes[j + 16] << 4)));
    };
    // e = 127 (d = 1/2): every code in order, then every code backwards.
    block(127, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
    // e = 254 (d = 2^126): codes of magnitude 4 and more overflow to infinity, as in ggml.
    block(254, {1, 9, 2, 10, 3, 11, 4, 12, 7, 15, 8, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5});
    // e = 0 (d = 2^-128, a subnormal): exact small values, some subnormal themselves.
    block(0, {1, 9, 2, 3, 7, 15, 8, 6, 0, 0, 0, 0, 0, 0, 0, 0,
              0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4});
    // e = 128 (d = 1): the table itself; e = 255 (d = 2^127) comes last.
    block(128, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8});
    block(255, {1, 9, 2, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    ASSERT_EQ(bytes.size(), 5 * kMxfp4BlockBytes);

    const float inf = std::numeric_limits<float>::infinity();
    const float big = 0x1p126f, tiny = 0x1p-128f;
    std::vector<float> want = {
        0, 0.5f, 1, 1.5f, 2, 3, 4, 6, 0, -0.5f, -1, -1.5f, -2, -3, -4, -6,
        -6, -4, -3, -2, -1.5f, -1, -0.5f, 0, 6, 4, 3, 2, 1.5f, 1, 0.5f, 0,
        //
        big, -big, 2 * big, -2 * big, 3 * big, -3 * big, inf, -inf, inf, -inf, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, inf,
        //
        tiny, -tiny, 2 * tiny, 3 * tiny, 12 * tiny, -12 * tiny, 0, 8 * tiny, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4 * tiny,
        //
        0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        //
        0x1p127f, -0x1p127f, inf, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    };
    ASSERT_EQ(tiny, std::ldexp(1.0f, -128));
    ASSERT_EQ(12 * tiny, std::ldexp(1.5f, -125));  // a normal float
    std::vector<float> got = decode_matrix(WeightFormat::MXFP4, bytes, 1, 160);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
        EXPECT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(want[i]))
            << "value " << i << ": got " << got[i] << ", want " << want[i];
    // Code 8 is E2M1's negative zero; ggml's int8 table makes it +0.
    EXPECT_FALSE(std::signbit(got[8]));
    EXPECT_FALSE(std::signbit(got[3 * 32 + 16]));
}

// Inputs whose codes are worked out by hand from ggml's quantize_row_mxfp4_ref:
// e = floor(log2(amax)) - 2 + 127, d = 2^(e - 128), and per value the code with the smallest
// |kvalues[code] * d - x|, the lowest code on ties.
TEST(Mxfp4, QuantisesAsGgmlsReference) {
    struct Case {
        float x;
        uint8_t code;
    };
    // amax 7.5: floor(log2 7.5) = 2, e = 127, d = 1/2, levels 0 .5 1 1.5 2 3 4 6.
    const Case a[] = {
        {7.5f, 7},    // clips to 6
        {-7.5f, 15},  // clips to -6
        {0.25f, 0},   // tie between 0 and .5: code 0
        {-0.25f, 0},  // tie between 0 (code 0) and -.5 (code 9): code 0, and never code 8
        {0.75f, 1},   // tie between .5 and 1
        {-0.75f, 9},  // tie between -.5 (code 9) and -1 (code 10)
        {5.0f, 6},    // tie between 4 and 6
        {-5.0f, 14},
        {2.5f, 4},    // tie between 2 and 3
        {3.4f, 5},
        {3.6f, 6},
        {1.2f, 2},
        {-1.3f, 11},
        {0.0f, 0},
        {-0.0f, 0},
        {0.2f, 0},
        {0.3f, 1},
        {-5.5f, 15},
        {1.75f, 3},   // tie between 1.5 and 2
        {-2.6f, 13},
        {4.9f, 6},
        {5.1f, 7},
    };
    static_assert(std::size(a) <= 32);
    std::vector<float> x(64, 0.0f);
    uint8_t want_codes[64] = {};
    for (size_t i = 0; i < std::size(a); ++i) {
        x[i] = a[i].x;
        want_codes[i] = a[i].code;
    }
    // Second block, amax 1 exactly: e = 0 - 2 + 127 = 125, d = 1/8, levels 0 .125 .25 .375 .5
    // .75 1 1.5: 1 is 8d (code 6).
    x[32] = 1.0f;
    want_codes[32] = 6;
    x[33] = -0.5f;  // -4d
    want_codes[33] = 12;
    x[34] = 0.3125f;  // 2.5d: tie between 2d (code 2) and 3d (code 3)
    want_codes[34] = 2;
    x[35] = -0.0625f;  // -0.5d: tie between 0 and -d
    want_codes[35] = 0;
    x[36] = 0.99f;  // 7.92d
    want_codes[36] = 6;
    std::vector<uint8_t> got = encode_matrix(WeightFormat::MXFP4, x, 1, 64);
    ASSERT_EQ(got.size(), 2 * kMxfp4BlockBytes);
    EXPECT_EQ(got[0], 127);
    EXPECT_EQ(got[17], 125);
    for (int b = 0; b < 2; ++b)
        for (int i = 0; i < 32; ++i) {
            uint8_t byte = got[17 * b + 1 + i % 16];
            uint8_t code = i < 16 ? byte & 0xF : byte >> 4;
            EXPECT_EQ(code, want_codes[32 * b + i])
                << "block " << b << " value " << i << " (" << x[32 * b + i] << ")";
        }
}

TEST(Mxfp4, ExponentsAtTheEndsOfTheRange) {
    auto exponent_of = [](float amax) {
        std::vector<float> x(32, 0.0f);
        x[5] = -amax;
        return encode_matrix(WeightFormat::MXFP4, x, 1, 32)[0];
    };
    EXPECT_EQ(exponent_of(0.0f), 0);  // ggml: a zero block gets e = 0
    EXPECT_EQ(exponent_of(1.0f), 125);
    EXPECT_EQ(exponent_of(4.0f), 127);
    EXPECT_EQ(exponent_of(7.99f), 127);
    EXPECT_EQ(exponent_of(8.0f), 128);
    EXPECT_EQ(exponent_of(0x1p-125f), 0);  // the smallest amax ggml defines e for
    EXPECT_EQ(exponent_of(0x1p-124f), 1);
    EXPECT_EQ(exponent_of(3e38f), 252);  // log2 = 127.8
    // Below 2^-125 ggml's cast is undefined; here the smallest scale, which still holds the values.
    EXPECT_EQ(exponent_of(0x1p-130f), 0);
    std::vector<float> x(32, 0.0f);
    x[0] = 0x1p-130f;
    x[1] = -0x1p-127f;
    auto round_trip = [](const std::vector<float>& v) {
        std::vector<uint8_t> bytes = encode_matrix(WeightFormat::MXFP4, v, 1, 32);
        return decode_matrix(WeightFormat::MXFP4, bytes, 1, 32);
    };
    std::vector<float> y = round_trip(x);
    EXPECT_EQ(y[0], 0.0f);  // 2^-130 is a quarter of d = 2^-128: rounds to 0
    EXPECT_EQ(y[1], -0x1p-127f);
    // Near the top of the float range: d = 2^124, and amax (14.1 d) clips to 12 d.
    x.assign(32, 0.0f);
    x[0] = 3e38f;
    y = round_trip(x);
    EXPECT_EQ(y[0], 12 * 0x1p124f);
}

TEST(Formats, F32AndF16RoundTrip) {
    std::vector<float> values = {0.0f, -0.0f, 1.0f, -2.5f, 3.14159265f, 65504.0f, 1e-7f, -1e5f};
    std::vector<uint8_t> f32 = encode_matrix(WeightFormat::F32, values, 2, 4);
    ASSERT_EQ(f32.size(), 32u);
    EXPECT_EQ(0, std::memcmp(f32.data(), values.data(), 32));
    std::vector<uint8_t> f16 = encode_matrix(WeightFormat::F16, values, 2, 4);
    ASSERT_EQ(f16.size(), 16u);
    std::vector<float> back = decode_matrix(WeightFormat::F16, f16, 2, 4);
    for (size_t i = 0; i < values.size(); ++i) {
        uint16_t h;
        std::memcpy(&h, &f16[i * 2], 2);
        EXPECT_EQ(h, float_to_half(values[i])) << i;
        EXPECT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(half_to_float(h))) << i;
    }
}

// --- bf16 ------------------------------------------------------------------------------------

TEST(BF16, DecodeIsTheUpperHalfOfAFloat) {
    for (uint32_t bits = 0; bits <= 0xFFFFu; ++bits)
        ASSERT_EQ(std::bit_cast<uint32_t>(bf16_to_float(static_cast<uint16_t>(bits))), bits << 16) << bits;
}

TEST(BF16, RoundsToNearestEven) {
    for (uint32_t bits = 0; bits <= 0xFFFFu; ++bits) {
        uint16_t b = static_cast<uint16_t>(bits);
        float f = bf16_to_float(b);
        if (std::isnan(f)) continue;
        ASSERT_EQ(float_to_bf16(f), b) << std::hex << bits;
        if ((b & 0x7FFFu) >= 0x7F7Fu) continue;  // the last finite value and the infinity
        // Halfway to the next bf16 (away from zero) ties to the even one; a float ulp either
        // side goes to the nearer.
        uint32_t mid = (uint32_t(b) << 16) | 0x8000u;
        uint16_t even = (b & 1u) ? static_cast<uint16_t>(b + 1) : b;
        ASSERT_EQ(float_to_bf16(std::bit_cast<float>(mid)), even) << std::hex << bits;
        ASSERT_EQ(float_to_bf16(std::bit_cast<float>(mid - 1)), b) << std::hex << bits;
        ASSERT_EQ(float_to_bf16(std::bit_cast<float>(mid + 1)), static_cast<uint16_t>(b + 1))
            << std::hex << bits;
    }
    EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7F80u);  // rounds up to infinity
    EXPECT_EQ(float_to_bf16(-std::numeric_limits<float>::infinity()), 0xFF80u);
    EXPECT_EQ(float_to_bf16(1.0f), 0x3F80u);
    EXPECT_EQ(float_to_bf16(-0.0f), 0x8000u);
    EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000u);
    // A NaN whose payload is only in the low half must not become an infinity.
    for (uint32_t bits : {0x7F800001u, 0xFF800001u, 0x7FC00000u, 0x7F80FFFFu}) {
        float nan = std::bit_cast<float>(bits);
        EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(nan)))) << std::hex << bits;
        EXPECT_EQ(float_to_bf16(nan) & 0x8000u, (bits >> 16) & 0x8000u);
    }
}

TEST(BF16, MatrixRoundTrip) {
    std::vector<float> values = {0.0f, -0.0f, 1.0f, -2.5f, 3.14159265f, 1e30f, 1e-30f, -1e5f, 0.1f};
    std::vector<uint8_t> bytes = encode_matrix(WeightFormat::BF16, values, 3, 3);
    ASSERT_EQ(bytes.size(), 18u);
    std::vector<float> back = decode_matrix(WeightFormat::BF16, bytes, 3, 3);
    for (size_t i = 0; i < values.size(); ++i) {
        uint16_t b = static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));  // little-endian
        EXPECT_EQ(b, float_to_bf16(values[i])) << i;
        EXPECT_EQ(back[i], bf16_to_float(b)) << i;
        EXPECT_LE(std::fabs(back[i] - values[i]), std::fabs(values[i]) * 0x1p-8f) << i;  // half a bf16 ulp
    }
}

// --- the block formats: encode then decode on random data --------------------------------------

// Per value, the error the format must reach and the step it quantises with, both derived from
// the input alone: `max_err` bounds every value; the RMS of err / step must be what rounding to
// nearest gives (about 0.29 for uniform data; truncating would give 0.58).
struct ErrorBound {
    double max_err, step;
};

double amax_of(const float* x, size_t n) {
    double a = 0;
    for (size_t i = 0; i < n; ++i) a = std::max(a, double(std::fabs(x[i])));
    return a;
}

// 2^-10 covers the f16 rounding of stored scales and mins (half an f16 ulp is 2^-11 relative).
constexpr double kF16Slack = 1.0 / 1024;

std::vector<ErrorBound> error_bounds(WeightFormat format, const std::vector<float>& x) {
    std::vector<ErrorBound> out(x.size());
    auto per_group = [&](size_t n, auto bound_of_group) {
        for (size_t g = 0; g < x.size() / n; ++g) bound_of_group(&x[g * n], &out[g * n]);
    };
    switch (format) {
        case WeightFormat::Q4_0:
        case WeightFormat::Q5_0:
        case WeightFormat::Q8_0: {
            // Symmetric: step = amax / 8 (16, 127). Q4_0 and Q5_0 put the largest magnitude on the
            // most negative code, so the opposite extreme may clip by a whole step.
            double levels = format == WeightFormat::Q4_0 ? 8 : format == WeightFormat::Q5_0 ? 16 : 127;
            double clip = format == WeightFormat::Q8_0 ? 0.5 + 127 * kF16Slack : 1.0 + kF16Slack;
            per_group(32, [&](const float* b, ErrorBound* e) {
                double step = amax_of(b, 32) / levels;
                for (size_t i = 0; i < 32; ++i) e[i] = {clip * step, step};
            });
            break;
        }
        case WeightFormat::Q4_1:
        case WeightFormat::Q5_1: {
            // step = (max - min) / 15 (31); the f16 min and step shift values by a little.
            double levels = format == WeightFormat::Q4_1 ? 15 : 31;
            per_group(32, [&](const float* b, ErrorBound* e) {
                auto [lo, hi] = std::minmax_element(b, b + 32);
                double step = (double(*hi) - *lo) / levels;
                double slack = kF16Slack * (std::fabs(*lo) + (levels + 1) * step);
                for (size_t i = 0; i < 32; ++i) e[i] = {step / 2 + slack, step};
            });
            break;
        }
        case WeightFormat::Q4_K:
        case WeightFormat::Q5_K: {
            // Sub-block j of 32 ideally steps by s_j = (max_j - min(min_j, 0)) / 15 (31). Its 6-bit
            // scale, a multiple of d ~ max_j s_j / 63, can make the step up to d larger; its 6-bit
            // min, a multiple of dmin ~ max_j(-min_j) / 63, rounded up, widens the range by up to
            // dmin.
            double levels = format == WeightFormat::Q4_K ? 15 : 31;
            per_group(256, [&](const float* b, ErrorBound* e) {
                double s[8], d = 0, dmin = 0;
                for (size_t j = 0; j < 8; ++j) {
                    auto [lo, hi] = std::minmax_element(b + 32 * j, b + 32 * j + 32);
                    double low = std::min(0.0, double(*lo));
                    s[j] = (double(*hi) - low) / levels;
                    d = std::max(d, s[j] / 63);
                    dmin = std::max(dmin, -low / 63);
                }
                for (size_t j = 0; j < 8; ++j)
                    for (size_t i = 0; i < 32; ++i)
                        e[32 * j + i] = {0.5 * (s[j] + d + dmin / levels) * (1 + kF16Slack),
                                         s[j] + d + dmin / levels};
            });
            break;
        }
        case WeightFormat::Q6_K: {
            // Sub-block j of 16 ideally steps by s_j = amax_j / 31; its 8-bit scale, a multiple of
            // d ~ max_j s_j / 127, can make the step up to d larger.
            per_group(256, [&](const float* b, ErrorBound* e) {
                double s[16], d = 0;
                for (size_t j = 0; j < 16; ++j) {
                    s[j] = amax_of(b + 16 * j, 16) / 31;
                    d = std::max(d, s[j] / 127);
                }
                for (size_t j = 0; j < 16; ++j)
                    for (size_t i = 0; i < 16; ++i)
                        e[16 * j + i] = {0.5 * (s[j] + d) * (1 + kF16Slack), s[j] + d};
            });
            break;
        }
        case WeightFormat::MXFP4: {
            // d = 2^(floor(log2 amax) - 3), so amax lies in [8d, 16d); the levels 0 d 2d 3d 4d 6d
            // 8d 12d are d apart up to 4d, 2d up to 8d, 4d up to 12d: half of that off at most.
            // Past 12d values clip, up to 4d off. `step` is twice the largest error of the
            // value's cell (the gap; 8d for the top level's cell, 12d .. 16d).
            per_group(32, [&](const float* b, ErrorBound* e) {
                float amax = static_cast<float>(amax_of(b, 32));
                int exponent = amax > 0 ? static_cast<int>(std::floor(std::log2(amax))) : 0;
                double d = amax > 0 ? std::ldexp(1.0, exponent - 3) : 1;
                for (size_t i = 0; i < 32; ++i) {
                    double a = std::fabs(double(b[i]));
                    double gap = a < 4 * d ? d : a < 8 * d ? 2 * d : 4 * d;
                    e[i] = a <= 12 * d ? ErrorBound{gap / 2, gap} : ErrorBound{a - 12 * d, 8 * d};
                }
            });
            break;
        }
        default: ADD_FAILURE() << "no bound for " << format_name(format);
    }
    return out;
}

class BlockFormat : public testing::TestWithParam<WeightFormat> {};

// Each 32-value group gets its own magnitude (2^-6 .. 2^2) and, in turn, values of both signs,
// all positive or all negative, so a decoder that takes the wrong block's or sub-block's scale or
// min fails the bound, and the minimum-carrying formats see non-zero minimums.
std::vector<float> varied_blocks(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    std::vector<float> v(n);
    for (size_t g = 0; g < n / 32; ++g) {
        float scale = std::ldexp(1.0f, static_cast<int>((g * 5) % 9) - 6);
        for (size_t i = 0; i < 32; ++i) {
            float u = unit(rng);
            float x = g % 3 == 0 ? 2 * u - 1 : g % 3 == 1 ? 0.25f + 0.75f * u : -0.5f - 0.5f * u;
            v[g * 32 + i] = scale * x;
        }
    }
    return v;
}

TEST_P(BlockFormat, ErrorIsWithinTheFormatsStep) {
    const WeightFormat format = GetParam();
    const size_t rows = 5, row_len = 512;  // two super-blocks, sixteen 32-blocks a row
    std::vector<float> x = varied_blocks(rows * row_len, 17 + static_cast<int>(format));
    std::vector<uint8_t> bytes = encode_matrix(format, x, rows, row_len);
    ASSERT_EQ(bytes.size(), rows * row_len / block_values(format) * block_bytes(format));
    std::vector<float> y = decode_matrix(format, bytes, rows, row_len);
    ASSERT_EQ(y.size(), x.size());
    std::vector<ErrorBound> bounds = error_bounds(format, x);
    double sum_sq = 0;
    size_t over = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        double err = std::fabs(double(y[i]) - x[i]);
        if (!(err <= bounds[i].max_err) && over++ < 5)
            ADD_FAILURE() << "value " << i << ": " << x[i] << " decoded as " << y[i] << ", error " << err
                          << " > " << bounds[i].max_err << " (step " << bounds[i].step << ")";
        sum_sq += (err / bounds[i].step) * (err / bounds[i].step);
    }
    EXPECT_EQ(over, 0u);
    double rms = std::sqrt(sum_sq / x.size());
    EXPECT_LT(rms, 0.36) << "RMS error in steps";
    EXPECT_GT(rms, 0.1) << "RMS error in steps (the data are not meant to be exact)";
}

TEST_P(BlockFormat, ZerosDecodeToPositiveZeros) {
    const WeightFormat format = GetParam();
    const size_t n = 2 * 256;
    std::vector<float> zeros(n, 0.0f);
    // One zero super-block between two others: a zero scale must not become NaN (0 / 0).
    std::vector<float> mixed = varied_blocks(3 * 256, 5);
    std::fill(mixed.begin() + 256, mixed.begin() + 512, 0.0f);
    for (const std::vector<float>* x : {&zeros, &mixed}) {
        std::vector<float> y = decode_matrix(format, encode_matrix(format, *x, 1, x->size()), 1, x->size());
        size_t first = x == &zeros ? 0 : 256, last = x == &zeros ? n : 512;
        for (size_t i = first; i < last; ++i) {
            ASSERT_EQ(y[i], 0.0f) << i;
            ASSERT_FALSE(std::signbit(y[i])) << i;
        }
        for (float v : y) ASSERT_TRUE(std::isfinite(v));
    }
}

INSTANTIATE_TEST_SUITE_P(Quantised, BlockFormat,
                         testing::Values(WeightFormat::Q4_0, WeightFormat::Q4_1, WeightFormat::Q5_0,
                                         WeightFormat::Q5_1, WeightFormat::Q8_0, WeightFormat::Q4_K,
                                         WeightFormat::Q5_K, WeightFormat::Q6_K,
                                         WeightFormat::MXFP4),
                         [](const auto& info) { return std::string(format_name(info.param)); });

// --- every format: geometry, names, bad lengths ------------------------------------------------

struct Geometry {
    WeightFormat format;
    const char* name;
    size_t values, bytes;  // per block, as GGUF lays the format out
};
constexpr Geometry kGeometry[] = {
    {WeightFormat::F32, "f32", 1, 4},       {WeightFormat::F16, "f16", 1, 2},
    {WeightFormat::BF16, "bf16", 1, 2},     {WeightFormat::Q4_0, "q4_0", 32, 18},
    {WeightFormat::Q4_1, "q4_1", 32, 20},   {WeightFormat::Q5_0, "q5_0", 32, 22},
    {WeightFormat::Q5_1, "q5_1", 32, 24},   {WeightFormat::Q8_0, "q8_0", 32, 34},
    {WeightFormat::Q4_K, "q4_k", 256, 144}, {WeightFormat::Q5_K, "q5_k", 256, 176},
    {WeightFormat::Q6_K, "q6_k", 256, 210}, {WeightFormat::MXFP4, "mxfp4", 32, 17},
};

TEST(Formats, BlockGeometryOfEveryFormat) {
    ASSERT_EQ(std::size(kGeometry), std::size(kWeightFormats));
    for (size_t i = 0; i < std::size(kGeometry); ++i) {
        const Geometry& g = kGeometry[i];
        SCOPED_TRACE(g.name);
        EXPECT_EQ(kWeightFormats[i], g.format);
        EXPECT_STREQ(format_name(g.format), g.name);
        EXPECT_EQ(block_values(g.format), g.values);
        EXPECT_EQ(block_bytes(g.format), g.bytes);
        EXPECT_EQ(row_bytes(g.format, g.values), g.bytes);
        EXPECT_EQ(row_bytes(g.format, 7 * g.values), 7 * g.bytes);
        EXPECT_EQ(row_bytes(g.format, 0), 0u);
        // The GGUF type table agrees, and the format maps to its ggml type and back.
        std::optional<GgmlTypeInfo> t = ggml_type_info(static_cast<uint32_t>(to_ggml_type(g.format)));
        ASSERT_TRUE(t.has_value());
        EXPECT_EQ(t->block_values, g.values);
        EXPECT_EQ(t->block_bytes, g.bytes);
        EXPECT_EQ(to_weight_format(to_ggml_type(g.format)), g.format);
    }
    EXPECT_EQ(row_bytes(WeightFormat::F16, 33), 66u);  // plain formats take any length
    EXPECT_EQ(row_bytes(WeightFormat::BF16, 33), 66u);
    EXPECT_EQ(row_bytes(WeightFormat::Q4_K, 4096), 16u * 144);
    EXPECT_EQ(row_bytes(WeightFormat::Q6_K, 14336), 56u * 210);
    // Types no kernel reads stay unmapped.
    for (GgmlType t :
         {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q8_1, GgmlType::IQ4_NL, GgmlType::IQ4_XS})
        EXPECT_EQ(to_weight_format(t), std::nullopt) << static_cast<uint32_t>(t);
    // gpt-oss's expert tensors: ggml type 39 binds as MXFP4.
    EXPECT_EQ(to_weight_format(static_cast<GgmlType>(39)), WeightFormat::MXFP4);
}

TEST(Formats, RowBytesRejectsPartialBlocks) {
    try {
        row_bytes(WeightFormat::Q8_0, 33);
        FAIL() << "row_bytes(Q8_0, 33) did not throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("33"), std::string::npos) << e.what();
    }
    for (const Geometry& g : kGeometry) {
        if (g.values == 1) continue;
        // Less than a block, a block and a bit, and (for the K-quants) whole 32-blocks that do
        // not fill a super-block.
        std::vector<size_t> bad = {1, g.values / 2, g.values + 1, 3 * g.values - 16};
        if (g.values == 256) bad.insert(bad.end(), {32, 288, 4096 + 64});
        for (size_t len : bad) {
            SCOPED_TRACE(testing::Message() << g.name << " row_len " << len);
            try {
                row_bytes(g.format, len);
                ADD_FAILURE() << "did not throw";
            } catch (const Error& e) {
                EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
                std::string what = e.what();
                EXPECT_NE(what.find(std::to_string(len)), std::string::npos) << what;
                EXPECT_NE(what.find(g.name), std::string::npos) << what;
            }
            EXPECT_THROW(encode_matrix(g.format, std::vector<float>(len), 1, len), Error);
        }
    }
    EXPECT_THROW(row_bytes(WeightFormat::Q8_0, 1), Error);
}

TEST(Formats, WrongSizesThrow) {
    try {
        encode_matrix(WeightFormat::F32, std::vector<float>(11), 3, 4);
        FAIL() << "encode_matrix with 11 values for 3x4 did not throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("11"), std::string::npos) << e.what();
    }
    EXPECT_THROW(encode_matrix(WeightFormat::Q8_0, std::vector<float>(65), 2, 32), Error);
    EXPECT_THROW(decode_matrix(WeightFormat::Q8_0, std::vector<uint8_t>(33), 1, 32), Error);
    EXPECT_THROW(decode_matrix(WeightFormat::F16, std::vector<uint8_t>(8), 1, 3), Error);
}

TEST(Formats, NamesRoundTrip) {
    for (WeightFormat f : kWeightFormats) {
        std::optional<WeightFormat> parsed = parse_format(format_name(f));
        ASSERT_TRUE(parsed.has_value()) << format_name(f);
        EXPECT_EQ(*parsed, f);
        // llama.cpp's spelling ("q4_K") and any other case name the same format.
        std::string upper = format_name(f);
        for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        EXPECT_EQ(parse_format(upper), f) << upper;
        EXPECT_EQ(parse_format(ggml_type_info(static_cast<uint32_t>(to_ggml_type(f)))->name), f);
    }
    EXPECT_STREQ(format_name(WeightFormat::Q8_0), "q8_0");
    EXPECT_EQ(parse_format("q4_K"), WeightFormat::Q4_K);
    EXPECT_EQ(parse_format("Q6_k"), WeightFormat::Q6_K);
    EXPECT_EQ(parse_format("BF16"), WeightFormat::BF16);
    EXPECT_EQ(parse_format("q3_k"), std::nullopt);
    EXPECT_EQ(parse_format("q4"), std::nullopt);
    EXPECT_EQ(parse_format(""), std::nullopt);
    EXPECT_EQ(parse_format("f32 "), std::nullopt);
    EXPECT_EQ(parse_format("MXFP4"), WeightFormat::MXFP4);
    EXPECT_EQ(format_names(),
              "f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k, mxfp4");
}

}  // namespace
}  // namespace moevk::quant
