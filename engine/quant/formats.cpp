#include "quant/formats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "gpu/error.h"

namespace moevk::quant {

const char* format_name(WeightFormat format) {
    switch (format) {
        case WeightFormat::F32: return "f32";
        case WeightFormat::F16: return "f16";
        case WeightFormat::Q8_0: return "q8_0";
    }
    return "?";
}

std::optional<WeightFormat> parse_format(std::string_view name) {
    for (WeightFormat f : {WeightFormat::F32, WeightFormat::F16, WeightFormat::Q8_0})
        if (name == format_name(f)) return f;
    return std::nullopt;
}

size_t block_values(WeightFormat format) {
    return format == WeightFormat::Q8_0 ? kQ8_0BlockValues : 1;
}

size_t row_bytes(WeightFormat format, size_t row_len) {
    switch (format) {
        case WeightFormat::F32: return row_len * 4;
        case WeightFormat::F16: return row_len * 2;
        case WeightFormat::Q8_0:
            if (row_len % kQ8_0BlockValues != 0)
                throw Error(ErrorCode::InvalidArgument,
                            "q8_0 rows must hold a multiple of 32 values, got " + std::to_string(row_len));
            return row_len / kQ8_0BlockValues * kQ8_0BlockBytes;
    }
    return 0;
}

uint16_t float_to_half(float value) {
    uint32_t f = std::bit_cast<uint32_t>(value);
    uint32_t sign = (f >> 16) & 0x8000u;
    uint32_t abs = f & 0x7FFFFFFFu;
    if (abs >= 0x7F800000u) return static_cast<uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0));
    if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds past 65504
    if (abs < 0x38800000u) {
        // Subnormal half (or zero): scale so the 10-bit mantissa lands in the integer part.
        float magnitude = std::bit_cast<float>(abs);
        float scaled = magnitude * 16777216.0f;  // 2^24: the smallest subnormal half becomes 1
        return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
    }
    uint32_t mantissa = abs & 0x7FFFFFu;
    uint32_t exponent = (abs >> 23) - 127 + 15;
    uint32_t half = (exponent << 10) | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // carries into the exponent correctly
    return static_cast<uint16_t>(sign | half);
}

float half_to_float(uint16_t h) {
    uint32_t sign = (h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu;
    uint32_t mantissa = h & 0x3FFu;
    if (exponent == 0) {
        float v = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -v : v;
    }
    if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
    return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

std::vector<uint8_t> encode_matrix(WeightFormat format, const std::vector<float>& values, size_t rows,
                                   size_t row_len) {
    if (values.size() != rows * row_len)
        throw Error(ErrorCode::InvalidArgument, "encode_matrix: " + std::to_string(values.size()) +
                                                    " values for a " + std::to_string(rows) + "x" +
                                                    std::to_string(row_len) + " matrix");
    std::vector<uint8_t> out(rows * row_bytes(format, row_len));
    switch (format) {
        case WeightFormat::F32: std::memcpy(out.data(), values.data(), out.size()); break;
        case WeightFormat::F16:
            for (size_t i = 0; i < values.size(); ++i) {
                uint16_t h = float_to_half(values[i]);
                std::memcpy(&out[i * 2], &h, 2);
            }
            break;
        case WeightFormat::Q8_0:
            // As llama.cpp quantises: d = max|x| / 127, q = round(x / d).
            for (size_t b = 0; b < values.size() / kQ8_0BlockValues; ++b) {
                const float* x = &values[b * kQ8_0BlockValues];
                float amax = 0;
                for (size_t i = 0; i < kQ8_0BlockValues; ++i) amax = std::max(amax, std::fabs(x[i]));
                float d = amax / 127.0f;
                float inv = d != 0 ? 1.0f / d : 0.0f;
                uint8_t* block = &out[b * kQ8_0BlockBytes];
                uint16_t h = float_to_half(d);
                std::memcpy(block, &h, 2);
                for (size_t i = 0; i < kQ8_0BlockValues; ++i)
                    block[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[i] * inv)));
            }
            break;
    }
    return out;
}

std::vector<float> decode_matrix(WeightFormat format, const std::vector<uint8_t>& bytes, size_t rows,
                                 size_t row_len) {
    if (bytes.size() != rows * row_bytes(format, row_len))
        throw Error(ErrorCode::InvalidArgument, "decode_matrix: " + std::to_string(bytes.size()) +
                                                    " bytes for a " + std::to_string(rows) + "x" +
                                                    std::to_string(row_len) + " " + format_name(format) +
                                                    " matrix");
    std::vector<float> out(rows * row_len);
    switch (format) {
        case WeightFormat::F32: std::memcpy(out.data(), bytes.data(), bytes.size()); break;
        case WeightFormat::F16:
            for (size_t i = 0; i < out.size(); ++i) {
                uint16_t h;
                std::memcpy(&h, &bytes[i * 2], 2);
                out[i] = half_to_float(h);
            }
            break;
        case WeightFormat::Q8_0:
            for (size_t b = 0; b < out.size() / kQ8_0BlockValues; ++b) {
                const uint8_t* block = &bytes[b * kQ8_0BlockBytes];
                uint16_t h;
                std::memcpy(&h, block, 2);
                float d = half_to_float(h);
                for (size_t i = 0; i < kQ8_0BlockValues; ++i)
                    out[b * kQ8_0BlockValues + i] = d * static_cast<float>(static_cast<int8_t>(block[2 + i]));
            }
            break;
    }
    return out;
}

}  // namespace moevk::quant
