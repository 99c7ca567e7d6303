// The CPU side of the weight formats: float <-> half conversion (exhaustive where the space is
// small enough), the Q8_0 block layout as GGUF stores it, and the size and name helpers. No GPU.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "gpu/error.h"
#include "quant/formats.h"

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

TEST(Formats, RowBytes) {
    EXPECT_EQ(row_bytes(WeightFormat::F32, 10), 40u);
    EXPECT_EQ(row_bytes(WeightFormat::F16, 10), 20u);
    EXPECT_EQ(row_bytes(WeightFormat::F16, 33), 66u);
    EXPECT_EQ(row_bytes(WeightFormat::Q8_0, 32), 34u);
    EXPECT_EQ(row_bytes(WeightFormat::Q8_0, 4096), 4096u / 32 * 34);
    EXPECT_EQ(block_values(WeightFormat::F32), 1u);
    EXPECT_EQ(block_values(WeightFormat::F16), 1u);
    EXPECT_EQ(block_values(WeightFormat::Q8_0), 32u);
}

TEST(Formats, RowBytesRejectsPartialBlocks) {
    try {
        row_bytes(WeightFormat::Q8_0, 33);
        FAIL() << "row_bytes(Q8_0, 33) did not throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("33"), std::string::npos) << e.what();
    }
    EXPECT_THROW(row_bytes(WeightFormat::Q8_0, 1), Error);
    EXPECT_THROW(encode_matrix(WeightFormat::Q8_0, std::vector<float>(48), 1, 48), Error);
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
    for (WeightFormat f : {WeightFormat::F32, WeightFormat::F16, WeightFormat::Q8_0}) {
        std::optional<WeightFormat> parsed = parse_format(format_name(f));
        ASSERT_TRUE(parsed.has_value()) << format_name(f);
        EXPECT_EQ(*parsed, f);
    }
    EXPECT_STREQ(format_name(WeightFormat::Q8_0), "q8_0");
    EXPECT_EQ(parse_format("q4_k"), std::nullopt);
    EXPECT_EQ(parse_format(""), std::nullopt);
    EXPECT_EQ(parse_format("f32 "), std::nullopt);
}

}  // namespace
}  // namespace moevk::quant
