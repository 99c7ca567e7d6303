// The K-quants: super-blocks of 256 values with quantised sub-block scales (Q4_K, Q5_K, Q6_K).
//
// Q4_K / Q5_K (144 / 176 bytes): f16 d, f16 dmin, scales[12], [Q5_K: qh[32]], qs[128].
//   Sub-block j (values 32j .. 32j+31) has a 6-bit scale sc_j and 6-bit min m_j, packed in
//   scales[12] as: for j < 4, sc_j = low 6 bits of scales[j], m_j = low 6 bits of scales[j+4];
//   for j >= 4, the low 4 bits come from scales[j+4] (sc low nibble, m high nibble) and the top
//   2 bits from the top bits of scales[j-4] (sc) and scales[j] (m).
//   Value i of 64-value group g = i / 64 is in qs[32g + i % 32]: the low nibble for the first
//   32 values of the group (sub-block 2g), the high nibble for the next 32 (sub-block 2g+1).
//   Q5_K adds bit 4 of value i from qh[i % 32], bit number i / 32 (the sub-block).
//   value = (d * sc_j) * q - (dmin * m_j), each product rounded to f32 first.
// Q6_K (210 bytes): ql[128], qh[64], int8 scales[16], f16 d.
//   Each half h = i / 128 uses ql[64h ..], qh[32h ..]; in it, quarter k = (i % 128) / 32 and
//   l = i % 32 take the 4 low bits from ql[64h + 32(k & 1) + l] (low nibble for k < 2, high
//   for k >= 2) and the 2 high bits from qh[32h + l] at bit 2k. Sub-block i / 16 has scale
//   scales[i / 16].  value = (d * scale) * (q - 32).
//
// Decoders keep ggml's order of f32 operations, so they give llama.cpp's dequantize_row_*
// results bit for bit (this file is built with -ffp-contract=off for that). Encoders round to
// nearest with scale choices that never clip the largest value of a sub-block.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/block_codecs.h"
#include "quant/formats.h"

namespace moevk::quant::detail {
namespace {

constexpr size_t kValues = kSuperBlockValues;
constexpr size_t kScaleBytes = 12;

// The sub-block scale and min of Q4_K / Q5_K (ggml's get_scale_min_k4).
void unpack_scale_min(const uint8_t* s, size_t j, uint8_t& sc, uint8_t& m) {
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

void pack_scale_min(const uint8_t* sc, const uint8_t* m, uint8_t* s) {
    for (size_t j = 0; j < 4; ++j) {
        s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = static_cast<uint8_t>(m[j] | ((m[j + 4] >> 4) << 6));
        s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
    }
}

// An f16 scale d with d * max_code >= need (rounding to nearest may land just below), so that
// sub-block codes up to max_code reach every sub-block.
uint16_t half_covering(float need, float max_code) {
    uint16_t h = float_to_half(need / max_code);
    if (half_to_float(h) * max_code < need)
        ++h;  // positive: the next bit pattern is the next half up
    return h;
}

// Q4_K / Q5_K: fills d, dmin and scales of `block` and returns codes 0..max_code in q[256].
void encode_scale_min_block(const float* x, int max_code, uint8_t* block, uint8_t* q) {
    constexpr size_t kSub = 8, kSubValues = 32;
    float lo[kSub], hi[kSub], largest_min = 0;
    for (size_t j = 0; j < kSub; ++j) {
        const float* xs = x + j * kSubValues;
        // The min is subtracted (value = d sc q - dmin m with m >= 0), so it is at most 0.
        lo[j] = std::min(0.0f, *std::min_element(xs, xs + kSubValues));
        hi[j] = *std::max_element(xs, xs + kSubValues);
        largest_min = std::max(largest_min, -lo[j]);
    }
    uint16_t dmin_h = half_covering(largest_min, 63.0f);
    const float dmin = half_to_float(dmin_h);

    uint8_t sc[kSub], m[kSub];
    float offset[kSub], need[kSub], largest_need = 0;
    for (size_t j = 0; j < kSub; ++j) {
        // Rounding the min up keeps the sub-block's lowest value at or above code 0: the range
        // grows by less than dmin instead of values below it clipping by up to dmin / 2, which
        // for a sub-block far smaller than the super-block's largest would be most of its range.
        m[j] = dmin > 0 ? static_cast<uint8_t>(std::min(63.0f, std::ceil(-lo[j] / dmin))) : 0;
        offset[j] = dmin * static_cast<float>(m[j]);
        // The step that puts the sub-block's largest value on the top code.
        need[j] = std::max(0.0f, hi[j] + offset[j]) / static_cast<float>(max_code);
        largest_need = std::max(largest_need, need[j]);
    }
    uint16_t d_h = half_covering(largest_need, 63.0f);
    const float d = half_to_float(d_h);
    for (size_t j = 0; j < kSub; ++j) {
        sc[j] = d > 0 ? static_cast<uint8_t>(std::min(63.0f, std::ceil(need[j] / d))) : 0;
        const float step = d * static_cast<float>(sc[j]);
        for (size_t i = j * kSubValues; i < (j + 1) * kSubValues; ++i) {
            long c = step > 0 ? std::lround((x[i] + offset[j]) / step) : 0;
            q[i] = static_cast<uint8_t>(std::clamp<long>(c, 0, max_code));
        }
    }
    put_u16(block, d_h);
    put_u16(block + 2, dmin_h);
    pack_scale_min(sc, m, block + 4);
}

}  // namespace

void encode_q4_k(const float* x, uint8_t* out, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kValues, out += 144) {
        uint8_t q[kValues];
        encode_scale_min_block(x, 15, out, q);
        uint8_t* qs = out + 4 + kScaleBytes;
        for (size_t g = 0; g < 4; ++g)
            for (size_t l = 0; l < 32; ++l)
                qs[32 * g + l] = static_cast<uint8_t>(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
    }
}

void decode_q4_k(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += 144) {
        const float d = half_to_float(get_u16(in));
        const float dmin = half_to_float(get_u16(in + 2));
        const uint8_t* scales = in + 4;
        const uint8_t* qs = in + 4 + kScaleBytes;
        for (size_t g = 0; g < 4; ++g, qs += 32) {
            uint8_t sc, m;
            unpack_scale_min(scales, 2 * g, sc, m);
            const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
            unpack_scale_min(scales, 2 * g + 1, sc, m);
            const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
            for (size_t l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(qs[l] & 0xF) - m1;
            for (size_t l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(qs[l] >> 4) - m2;
        }
    }
}

void encode_q5_k(const float* x, uint8_t* out, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, x += kValues, out += 176) {
        uint8_t q[kValues];
        encode_scale_min_block(x, 31, out, q);
        uint8_t* qh = out + 4 + kScaleBytes;
        uint8_t* qs = qh + 32;
        std::memset(qh, 0, 32);
        for (size_t g = 0; g < 4; ++g)
            for (size_t l = 0; l < 32; ++l) {
                uint8_t a = q[64 * g + l], c = q[64 * g + 32 + l];
                qs[32 * g + l] = static_cast<uint8_t>((a & 0xF) | ((c & 0xF) << 4));
                qh[l] |= static_cast<uint8_t>(((a >> 4) << (2 * g)) | ((c >> 4) << (2 * g + 1)));
            }
    }
}

void decode_q5_k(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += 176) {
        const float d = half_to_float(get_u16(in));
        const float dmin = half_to_float(get_u16(in + 2));
        const uint8_t* scales = in + 4;
        const uint8_t* qh = in + 4 + kScaleBytes;
        const uint8_t* qs = qh + 32;
        for (size_t g = 0; g < 4; ++g, qs += 32) {
            uint8_t sc, m;
            unpack_scale_min(scales, 2 * g, sc, m);
            const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
            unpack_scale_min(scales, 2 * g + 1, sc, m);
            const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
            const uint8_t bit1 = static_cast<uint8_t>(1u << (2 * g)),
                          bit2 = static_cast<uint8_t>(2u << (2 * g));
            for (size_t l = 0; l < 32; ++l)
                *y++ = d1 * static_cast<float>((qs[l] & 0xF) + ((qh[l] & bit1) ? 16 : 0)) - m1;
            for (size_t l = 0; l < 32; ++l)
                *y++ = d2 * static_cast<float>((qs[l] >> 4) + ((qh[l] & bit2) ? 16 : 0)) - m2;
        }
    }
}

void encode_q6_k(const float* x, uint8_t* out, size_t n_blocks) {
    constexpr size_t kSub = 16, kSubValues = 16;
    for (size_t b = 0; b < n_blocks; ++b, x += kValues, out += 210) {
        // Codes -31..31 around 32 (of -32..31): the symmetric range needs no sign trick.
        float step_needed[kSub], largest = 0;
        for (size_t j = 0; j < kSub; ++j) {
            float amax = 0;
            for (size_t i = 0; i < kSubValues; ++i)
                amax = std::max(amax, std::fabs(x[j * kSubValues + i]));
            step_needed[j] = amax / 31.0f;
            largest = std::max(largest, step_needed[j]);
        }
        uint16_t d_h = half_covering(largest, 127.0f);
        const float d = half_to_float(d_h);
        uint8_t q[kValues];
        int8_t* scales = reinterpret_cast<int8_t*>(out + 192);
        for (size_t j = 0; j < kSub; ++j) {
            scales[j] =
                d > 0 ? static_cast<int8_t>(std::min(127.0f, std::ceil(step_needed[j] / d))) : 0;
            const float step = d * static_cast<float>(scales[j]);
            for (size_t i = j * kSubValues; i < (j + 1) * kSubValues; ++i) {
                long c = step > 0 ? std::lround(x[i] / step) : 0;
                q[i] = static_cast<uint8_t>(std::clamp<long>(c, -32, 31) + 32);
            }
        }
        uint8_t* ql = out;
        uint8_t* qh = out + 128;
        for (size_t h = 0; h < 2; ++h) {
            const uint8_t* qq = q + 128 * h;
            for (size_t l = 0; l < 32; ++l) {
                ql[64 * h + l] = static_cast<uint8_t>((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
                ql[64 * h + 32 + l] =
                    static_cast<uint8_t>((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
                qh[32 * h + l] =
                    static_cast<uint8_t>((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) |
                                         ((qq[l + 64] >> 4) << 4) | ((qq[l + 96] >> 4) << 6));
            }
        }
        put_u16(out + 208, d_h);
    }
}

void decode_q6_k(const uint8_t* in, float* y, size_t n_blocks) {
    for (size_t b = 0; b < n_blocks; ++b, in += 210) {
        const float d = half_to_float(get_u16(in + 208));
        for (size_t h = 0; h < 2; ++h, y += 128) {
            const uint8_t* ql = in + 64 * h;
            const uint8_t* qh = in + 128 + 32 * h;
            const int8_t* sc = reinterpret_cast<const int8_t*>(in + 192 + 8 * h);
            for (size_t l = 0; l < 32; ++l) {
                const size_t is = l / 16;
                const int q1 = static_cast<int>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 =
                    static_cast<int>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = static_cast<int>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = static_cast<int>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
                y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
                y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
                y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
            }
        }
    }
}

}  // namespace moevk::quant::detail
