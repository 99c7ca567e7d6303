// Block layouts built byte by byte from chosen fields (scales, mins, codes), as GGUF files store
// them, and the values each must decode to, computed here from those fields by ggml's formulas
// in ggml's order of f32 operations. Scales have full f16 mantissas so that products round:
// a decoder that multiplies in another order (or fuses a multiply-add) fails the bitwise check.
// This file is built with -ffp-contract=off so the expected values round step by step too.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include "quant/formats.h"

namespace moevk::quant {
namespace {

// A normal half of magnitude 2^-9 .. 2^-2 with a random mantissa; negative too when asked.
uint16_t random_half(std::mt19937_64& rng, bool signed_too) {
    uint16_t exponent = static_cast<uint16_t>(6 + rng() % 8);  // biased: 2^(e - 15)
    uint16_t h = static_cast<uint16_t>((exponent << 10) | (rng() & 0x3FF));
    if (signed_too && (rng() & 1)) h |= 0x8000;
    return h;
}

void push_u16(std::vector<uint8_t>& bytes, uint16_t v) {
    bytes.push_back(static_cast<uint8_t>(v & 0xFF));
    bytes.push_back(static_cast<uint8_t>(v >> 8));
}

void push_u32(std::vector<uint8_t>& bytes, uint32_t v) {
    push_u16(bytes, static_cast<uint16_t>(v & 0xFFFF));
    push_u16(bytes, static_cast<uint16_t>(v >> 16));
}

// Decodes `bytes` as rows x row_len and compares every value bit for bit.
void expect_decodes_to(WeightFormat format, const std::vector<uint8_t>& bytes, size_t rows,
                       size_t row_len, const std::vector<float>& want) {
    ASSERT_EQ(bytes.size(), rows * row_bytes(format, row_len));
    ASSERT_EQ(want.size(), rows * row_len);
    std::vector<float> got = decode_matrix(format, bytes, rows, row_len);
    size_t bad = 0;
    for (size_t i = 0; i < want.size(); ++i)
        if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(want[i]) && bad++ < 8)
            ADD_FAILURE() << format_name(format) << " value " << i << ": got " << got[i]
                          << ", want " << want[i];
    EXPECT_EQ(bad, 0u);
}

// 32-value blocks: 2 rows of 2 blocks. Each block holds every code (step coprime with the
// code count) in a different order.

TEST(Layout, Q4_0) {
    std::mt19937_64 rng(1);
    std::vector<uint8_t> bytes;
    std::vector<float> want;
    for (int b = 0; b < 4; ++b) {
        uint16_t dh = random_half(rng, true);
        float d = half_to_float(dh);
        int q[32];
        for (int i = 0; i < 32; ++i) q[i] = (i * 7 + b * 5) % 16;
        push_u16(bytes, dh);
        for (int j = 0; j < 16; ++j) bytes.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
        for (int i = 0; i < 32; ++i) want.push_back(static_cast<float>(q[i] - 8) * d);
    }
    expect_decodes_to(WeightFormat::Q4_0, bytes, 2, 64, want);
}

TEST(Layout, Q4_1) {
    std::mt19937_64 rng(2);
    std::vector<uint8_t> bytes;
    std::vector<float> want;
    for (int b = 0; b < 4; ++b) {
        uint16_t dh = random_half(rng, false), mh = random_half(rng, true);
        float d = half_to_float(dh), m = half_to_float(mh);
        int q[32];
        for (int i = 0; i < 32; ++i) q[i] = (i * 5 + b * 3) % 16;
        push_u16(bytes, dh);
        push_u16(bytes, mh);
        for (int j = 0; j < 16; ++j) bytes.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
        for (int i = 0; i < 32; ++i) want.push_back(static_cast<float>(q[i]) * d + m);
    }
    expect_decodes_to(WeightFormat::Q4_1, bytes, 2, 64, want);
}

// Q5: bit 4 of code i is bit i of the little-endian u32 qh; the low 4 bits as in Q4.
uint32_t fifth_bits(const int* q) {
    uint32_t qh = 0;
    for (int i = 0; i < 32; ++i) qh |= uint32_t(q[i] >> 4) << i;
    return qh;
}

TEST(Layout, Q5_0) {
    std::mt19937_64 rng(3);
    std::vector<uint8_t> bytes;
    std::vector<float> want;
    for (int b = 0; b < 4; ++b) {
        uint16_t dh = random_half(rng, true);
        float d = half_to_float(dh);
        int q[32];
        for (int i = 0; i < 32; ++i) q[i] = (i * 13 + b * 3) % 32;
        push_u16(bytes, dh);
        push_u32(bytes, fifth_bits(q));
        for (int j = 0; j < 16; ++j)
            bytes.push_back(static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4)));
        for (int i = 0; i < 32; ++i) want.push_back(static_cast<float>(q[i] - 16) * d);
    }
    expect_decodes_to(WeightFormat::Q5_0, bytes, 2, 64, want);
}

TEST(Layout, Q5_1) {
    std::mt19937_64 rng(4);
    std::vector<uint8_t> bytes;
    std::vector<float> want;
    for (int b = 0; b < 4; ++b) {
        uint16_t dh = random_half(rng, false), mh = random_half(rng, true);
        float d = half_to_float(dh), m = half_to_float(mh);
        int q[32];
        for (int i = 0; i < 32; ++i) q[i] = (i * 11 + b * 7) % 32;
        push_u16(bytes, dh);
        push_u16(bytes, mh);
        push_u32(bytes, fifth_bits(q));
        for (int j = 0; j < 16; ++j)
            bytes.push_back(static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4)));
        for (int i = 0; i < 32; ++i) want.push_back(static_cast<float>(q[i]) * d + m);
    }
    expect_decodes_to(WeightFormat::Q5_1, bytes, 2, 64, want);
}

// MXFP4: 2 rows of 3 blocks, so the second row starts at byte 51 and its blocks at every
// alignment. Per block the exponent byte, then 16 bytes of 4-bit codes as Q4_0 packs them;
// value = kvalues_mxfp4[code] * 2^(e - 128). The exponents include both subnormal scales, 1/2,
// and the two largest (whose large codes overflow to infinity, as in ggml).
TEST(Layout, MXFP4) {
    constexpr int kValues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    std::mt19937_64 rng(8);
    const int exponents[6] = {0, 1, 127, 254, 255, static_cast<int>(100 + rng() % 50)};
    std::vector<uint8_t> bytes;
    std::vector<float> want;
    for (int b = 0; b < 6; ++b) {
        int q[32];
        for (int i = 0; i < 32; ++i) q[i] = (i * 7 + b * 5) % 16;
        bytes.push_back(static_cast<uint8_t>(exponents[b]));
        for (int j = 0; j < 16; ++j) bytes.push_back(static_cast<uint8_t>(q[j] | (q[j + 16] << 4)));
        const float d = std::ldexp(1.0f, exponents[b] - 128);
        for (int i = 0; i < 32; ++i) want.push_back(static_cast<float>(kValues[q[i]]) * d);
    }
    expect_decodes_to(WeightFormat::MXFP4, bytes, 2, 96, want);
}

// K-quants: 2 rows of 1 super-block each.

// Q4_K / Q5_K scales[12] from six-bit scales sc[8] and mins m[8], placed as get_scale_min_k4
// reads them: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scale) and 4-7 (min); sub-blocks
// 4-7 with their low 4 bits in bytes 8-11 (scale in the low nibble, min in the high) and their
// top 2 bits in the top 2 bits of bytes 0-3 (scale) and 4-7 (min).
void push_scales_and_mins(std::vector<uint8_t>& bytes, const int* sc, const int* m) {
    uint8_t s[12] = {};
    for (int j = 0; j < 4; ++j) {
        s[j] |= static_cast<uint8_t>(sc[j]);
        s[j + 4] |= static_cast<uint8_t>(m[j]);
    }
    for (int j = 4; j < 8; ++j) {
        s[j + 4] |= static_cast<uint8_t>((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
        s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
        s[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
    }
    bytes.insert(bytes.end(), s, s + 12);
}

// Six-bit scales and mins with every top-bit pattern in both halves (0, 1, 33, 63, ...).
constexpr int kScales[2][8] = {{63, 1, 34, 17, 48, 45, 6, 60}, {0, 62, 16, 47, 33, 15, 63, 31}};
constexpr int kMins[2][8] = {{5, 63, 0, 33, 16, 62, 31, 2}, {48, 1, 60, 17, 0, 47, 35, 63}};

// Q4_K/Q5_K low nibbles: group g of 64 values is bytes 32g .. 32g+31 of qs, low nibbles the
// first 32 values, high nibbles the next 32.
void push_k_nibbles(std::vector<uint8_t>& bytes, const int* q) {
    for (int g = 0; g < 4; ++g)
        for (int l = 0; l < 32; ++l)
            bytes.push_back(
                static_cast<uint8_t>((q[64 * g + l] & 0xF) | ((q[64 * g + 32 + l] & 0xF) << 4)));
}

TEST(Layout, Q4_K) {
    std::mt19937_64 rng(5);
    std::vector<uint8_t> bytes;
    std::vector<float> want;
    for (int b = 0; b < 2; ++b) {
        uint16_t dh = random_half(rng, false), dminh = random_half(rng, false);
        float d = half_to_float(dh), dmin = half_to_float(dminh);
        int q[256];
        for (int i = 0; i < 256; ++i) q[i] = (i * 7 + b) % 16;
        push_u16(bytes, dh);
        push_u16(bytes, dminh);
        push_scales_and_mins(bytes, kScales[b], kMins[b]);
        push_k_nibbles(bytes, q);
        for (int i = 0; i < 256; ++i) {
            const float d1 = d * static_cast<float>(kScales[b][i / 32]);
            const float m1 = dmin * static_cast<float>(kMins[b][i / 32]);
            want.push_back(d1 * static_cast<float>(q[i]) - m1);
        }
    }
    expect_decodes_to(WeightFormat::Q4_K, bytes, 2, 256, want);
}

TEST(Layout, Q5_K) {
    std::mt19937_64 rng(6);
    std::vector<uint8_t> bytes;
    std::vector<float> want;
    for (int b = 0; b < 2; ++b) {
        uint16_t dh = random_half(rng, false), dminh = random_half(rng, false);
        float d = half_to_float(dh), dmin = half_to_float(dminh);
        int q[256];
        for (int i = 0; i < 256; ++i) q[i] = (i * 13 + 5 * b) % 32;
        push_u16(bytes, dh);
        push_u16(bytes, dminh);
        push_scales_and_mins(bytes, kScales[b], kMins[b]);
        // qh[32]: bit 4 of value i sits in byte i % 32 at bit i / 32.
        uint8_t qh[32] = {};
        for (int i = 0; i < 256; ++i) qh[i % 32] |= static_cast<uint8_t>((q[i] >> 4) << (i / 32));
        bytes.insert(bytes.end(), qh, qh + 32);
        push_k_nibbles(bytes, q);
        for (int i = 0; i < 256; ++i) {
            const float d1 = d * static_cast<float>(kScales[b][i / 32]);
            const float m1 = dmin * static_cast<float>(kMins[b][i / 32]);
            want.push_back(d1 * static_cast<float>(q[i]) - m1);
        }
    }
    expect_decodes_to(WeightFormat::Q5_K, bytes, 2, 256, want);
}

TEST(Layout, Q6_K) {
    std::mt19937_64 rng(7);
    std::vector<uint8_t> bytes;
    std::vector<float> want;
    for (int b = 0; b < 2; ++b) {
        int q[256];
        for (int i = 0; i < 256; ++i) q[i] = (i * 29 + 7 * b) % 64;
        int8_t sc[16];
        for (int j = 0; j < 16; ++j) sc[j] = static_cast<int8_t>(rng() & 0xFF);
        sc[3] = -128;  // both ends of the int8 range
        sc[12] = 127;
        uint16_t dh = random_half(rng, true);
        float d = half_to_float(dh);
        // Value i: half h = i / 128, quarter k = (i % 128) / 32, l = i % 32. Low 4 bits in
        // ql[64h + 32 (k & 1) + l] (low nibble for k < 2, else high); top 2 bits in
        // qh[32h + l] at bit 2k.
        uint8_t ql[128] = {}, qh[64] = {};
        for (int i = 0; i < 256; ++i) {
            int h = i / 128, k = (i % 128) / 32, l = i % 32;
            ql[64 * h + 32 * (k & 1) + l] |= static_cast<uint8_t>((q[i] & 0xF) << (k >= 2 ? 4 : 0));
            qh[32 * h + l] |= static_cast<uint8_t>((q[i] >> 4) << (2 * k));
        }
        bytes.insert(bytes.end(), ql, ql + 128);
        bytes.insert(bytes.end(), qh, qh + 64);
        for (int8_t s : sc) bytes.push_back(static_cast<uint8_t>(s));
        push_u16(bytes, dh);  // d comes last in Q6_K
        for (int i = 0; i < 256; ++i)
            want.push_back(d * static_cast<float>(sc[i / 16]) * static_cast<float>(q[i] - 32));
    }
    expect_decodes_to(WeightFormat::Q6_K, bytes, 2, 256, want);
}

}  // namespace
}  // namespace moevk::quant
