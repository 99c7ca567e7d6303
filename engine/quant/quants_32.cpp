// The 32-value block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, MXFP4 (layouts in formats.h).
//
// Decoders evaluate ggml's expressions in the same order and precision, so their floats equal
// llama.cpp's dequantize_row_* results; this file is built with -ffp-contract=off so that no
// multiply-add is fused (which would round once instead of twice).
//
// Encoders round to nearest against the scale as stored (f16), which is what the decoder will
// multiply by. The symmetric formats give the value of largest magnitude the code -8 (-16)
// with a scale of the opposite sign, so all 16 (32) codes are used, as llama.cpp does; the
// value of opposite sign and equal magnitude then clips to 7 (15), one step off. MXFP4 follows
// ggml's reference quantiser exactly (see encode_mxfp4).
#include <algorithm>
#include <cmath>

#include "quant/block_codecs.h"
#include "quant/formats.h"

namespace moevk::quant::detail {
namespace {

constexpr size_t kBlock = 32;

// The element of largest magnitude, with its sign (the first one on ties).
float signed_extreme(const float* x) {
    float best = 0.0f;
    for (size_t i = 0; i < kBlock; ++i)
        if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
    return best;
}

// Code of v at step d, shifted by `offset` and clipped to 0..max; the zero code when d is 0.
uint8_t code(float v, float d, int offset, int max) {
    long q = d != 0.0f ? std::lround(v / d) + offset : offset;
    return static_cast<uint8_t>(std::clamp<long>(q, 0, max));
}

// 4-bit codes q[32] into 16 bytes: byte j holds q[j] low and q[j + 16] high.
void pack_nibbles(const uint8_t* q, uint8_t* qs) {
    for (size_t j = 0; j < kBlock / 2; ++j)
        qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
}

// Bit 4 of every code, code i at bit i.
uint32_t high_bits(const uint8_t* q) {
    uint32_t qh = 0;
    for (size_t i = 0; i < kBlock; ++i) qh |= uint32_t((q[i] >> 4) & 1u) << i;
    return qh;
}

// Symmetric formats: d = extreme / -half_range, code = round(x / d) + half_range.
void encode_symmetric(const float* x, uint8_t* block, int half_range, uint8_t* q) {
    // An all-zero block gets d = +0, not 0 / -8 = -0, so it decodes to +0 as the other formats do.
    float extreme = signed_extreme(x);
    uint16_t dh = extreme != 0.0f ? float_to_half(extreme / static_cast<float>(-half_range)) : 0;
    float d = half_to_float(dh);
    put_u16(block, dh);
    for (size_t i = 0; i < kBlock; ++i) q[i] = code(x[i], d, half_range, 2 * half_range - 1);
}

// Formats with a minimum: d = (max - min) / max_code, m = min, code = round((x - m) / d).
void encode_with_min(const float* x, uint8_t* block, int max_code, uint8_t* q) {
    auto [lo, hi] = std::minmax_element(x, x + kBlock);
    uint16_t dh = float_to_half((*hi - *lo) / static_cast<float>(max_code));
    uint16_t mh = float_to_half(*lo);
    float d = half_to_float(dh), m = half_to_float(mh);
    put_u16(block, dh);
    put_u16(block + 2, mh);
    for (size_t i = 0; i < kBlock; ++i) q[i] = code(x[i] - m, d, 0, max_code);
}

}  // namespace

void encode_q4_0(const float* x, uint8_t* out, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kBlock, out += 18) {
        uint8_t q[kBlock];
        encode_symmetric(x, out, 8, q);
        pack_nibbles(q, out + 2);
    }
}

void decode_q4_0(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += 18, y += kBlock) {
        const float d = half_to_float(get_u16(in));
        const uint8_t* qs = in + 2;
        for (size_t j = 0; j < 16; ++j) {
            const int lo = (qs[j] & 0xF) - 8;
            const int hi = (qs[j] >> 4) - 8;
            y[j] = static_cast<float>(lo) * d;
            y[j + 16] = static_cast<float>(hi) * d;
        }
    }
}

void encode_q4_1(const float* x, uint8_t* out, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kBlock, out += 20) {
        uint8_t q[kBlock];
        encode_with_min(x, out, 15, q);
        pack_nibbles(q, out + 4);
    }
}

void decode_q4_1(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += 20, y += kBlock) {
        const float d = half_to_float(get_u16(in));
        const float m = half_to_float(get_u16(in + 2));
        const uint8_t* qs = in + 4;
        for (size_t j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(qs[j] & 0xF) * d + m;
            y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
        }
    }
}

void encode_q5_0(const float* x, uint8_t* out, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kBlock, out += 22) {
        uint8_t q[kBlock];
        encode_symmetric(x, out, 16, q);
        put_u32(out + 2, high_bits(q));
        pack_nibbles(q, out + 6);
    }
}

void decode_q5_0(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += 22, y += kBlock) {
        const float d = half_to_float(get_u16(in));
        const uint32_t qh = get_u32(in + 2);
        const uint8_t* qs = in + 6;
        for (size_t j = 0; j < 16; ++j) {
            const int lo = static_cast<int>((qs[j] & 0xFu) | (((qh >> j) & 1u) << 4)) - 16;
            const int hi = static_cast<int>((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
            y[j] = static_cast<float>(lo) * d;
            y[j + 16] = static_cast<float>(hi) * d;
        }
    }
}

void encode_q5_1(const float* x, uint8_t* out, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kBlock, out += 24) {
        uint8_t q[kBlock];
        encode_with_min(x, out, 31, q);
        put_u32(out + 4, high_bits(q));
        pack_nibbles(q, out + 8);
    }
}

void decode_q5_1(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += 24, y += kBlock) {
        const float d = half_to_float(get_u16(in));
        const float m = half_to_float(get_u16(in + 2));
        const uint32_t qh = get_u32(in + 4);
        const uint8_t* qs = in + 8;
        for (size_t j = 0; j < 16; ++j) {
            const uint32_t lo = (qs[j] & 0xFu) | (((qh >> j) & 1u) << 4);
            const uint32_t hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
            y[j] = static_cast<float>(lo) * d + m;
            y[j + 16] = static_cast<float>(hi) * d + m;
        }
    }
}

void encode_q8_0(const float* x, uint8_t* out, size_t n_blocks) {
    // As llama.cpp quantises: d = max|x| / 127, q = round(x / d) with the unrounded d.
    for (size_t b = 0; b < n_blocks; ++b, x += kBlock, out += kQ8_0BlockBytes) {
        float amax = 0;
        for (size_t i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
        float d = amax / 127.0f;
        float inv = d != 0 ? 1.0f / d : 0.0f;
        put_u16(out, float_to_half(d));
        for (size_t i = 0; i < kBlock; ++i)
            out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[i] * inv)));
    }
}

void decode_q8_0(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += kQ8_0BlockBytes, y += kBlock) {
        const float d = half_to_float(get_u16(in));
        for (size_t i = 0; i < kBlock; ++i)
            y[i] = static_cast<float>(static_cast<int8_t>(in[2 + i])) * d;
    }
}

// As ggml's quantize_row_mxfp4_ref: e = floor(log2(amax)) - 2 + 127, so the scale d = 2^(e - 128)
// puts amax at 8d .. 16d, and each value takes the code whose d * value is nearest, the lowest
// code on ties (so +0 over code 8's -0, and the smaller magnitude between two levels). Values
// past 12d, the largest level, clip to it: up to a quarter of amax off, which the format's
// fixed exponent step costs. ggml leaves e undefined (a negative float cast to uint8_t) when
// amax is below 2^-125; here it is 0, the smallest scale, which still holds such values.
void encode_mxfp4(const float* x, uint8_t* out, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kBlock, out += kMxfp4BlockBytes) {
        float amax = 0.0f;
        for (size_t i = 0; i < kBlock; ++i)
            if (amax < std::fabs(x[i])) amax = std::fabs(x[i]);
        int e = 0;
        if (amax > 0.0f) {
            float exponent = std::floor(std::log2(amax));  // log2f, as ggml calls it
            e = std::isfinite(exponent) ? std::clamp(static_cast<int>(exponent) - 2 + 127, 0, 254)
                                        : 254;
        }
        const float d = mxfp4_scale(static_cast<uint8_t>(e));
        uint8_t q[kBlock];
        for (size_t i = 0; i < kBlock; ++i) {
            uint8_t best = 0;
            float best_err = std::fabs(static_cast<float>(kMxfp4Values[0]) * d - x[i]);
            for (uint8_t c = 1; c < 16; ++c) {
                float err = std::fabs(static_cast<float>(kMxfp4Values[c]) * d - x[i]);
                if (err < best_err) {
                    best = c;
                    best_err = err;
                }
            }
            q[i] = best;
        }
        out[0] = static_cast<uint8_t>(e);
        pack_nibbles(q, out + 1);
    }
}

void decode_mxfp4(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += kMxfp4BlockBytes, y += kBlock) {
        const float d = mxfp4_scale(in[0]);
        const uint8_t* qs = in + 1;
        for (size_t j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(kMxfp4Values[qs[j] & 0xF]) * d;
            y[j + 16] = static_cast<float>(kMxfp4Values[qs[j] >> 4]) * d;
        }
    }
}

}  // namespace moevk::quant::detail
