#include "quant/formats.h"

#include <bit>
#include <cctype>
#include <cmath>

#include "gpu/error.h"
#include "quant/block_codecs.h"

namespace moevk::quant {

namespace {

struct FormatInfo {
    const char* name;
    size_t block_values;
    size_t block_bytes;
};

FormatInfo info(WeightFormat format) {
    switch (format) {
        case WeightFormat::F32: return {"f32", 1, 4};
        case WeightFormat::F16: return {"f16", 1, 2};
        case WeightFormat::BF16: return {"bf16", 1, 2};
        case WeightFormat::Q4_0: return {"q4_0", 32, 18};
        case WeightFormat::Q4_1: return {"q4_1", 32, 20};
        case WeightFormat::Q5_0: return {"q5_0", 32, 22};
        case WeightFormat::Q5_1: return {"q5_1", 32, 24};
        case WeightFormat::Q8_0: return {"q8_0", kQ8_0BlockValues, kQ8_0BlockBytes};
        case WeightFormat::Q4_K: return {"q4_k", kSuperBlockValues, 144};
        case WeightFormat::Q5_K: return {"q5_k", kSuperBlockValues, 176};
        case WeightFormat::Q6_K: return {"q6_k", kSuperBlockValues, 210};
        case WeightFormat::MXFP4: return {"mxfp4", 32, kMxfp4BlockBytes};
    }
    return {"?", 1, 0};
}

}  // namespace

const char* format_name(WeightFormat format) { return info(format).name; }

std::optional<WeightFormat> parse_format(std::string_view name) {
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (WeightFormat f : kWeightFormats)
        if (lower == format_name(f)) return f;
    return std::nullopt;
}

std::string format_names() {
    std::string s;
    for (WeightFormat f : kWeightFormats) s += (s.empty() ? "" : ", ") + std::string(format_name(f));
    return s;
}

size_t block_values(WeightFormat format) { return info(format).block_values; }
size_t block_bytes(WeightFormat format) { return info(format).block_bytes; }

size_t row_bytes(WeightFormat format, size_t row_len) {
    FormatInfo f = info(format);
    if (row_len % f.block_values != 0)
        throw Error(ErrorCode::InvalidArgument, std::string(f.name) + " rows must hold a multiple of " +
                                                    std::to_string(f.block_values) + " values, got " +
                                                    std::to_string(row_len));
    return row_len / f.block_values * f.block_bytes;
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

uint16_t float_to_bf16(float value) {
    uint32_t f = std::bit_cast<uint32_t>(value);
    // Truncating a NaN whose payload sits in the low half would leave an infinity: set the quiet
    // bit instead, as ggml does.
    if ((f & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((f >> 16) | 0x40u);
    // Round to nearest even; finite values past the largest bf16 carry into the infinity.
    return static_cast<uint16_t>((f + 0x7FFFu + ((f >> 16) & 1u)) >> 16);
}

float bf16_to_float(uint16_t bf16) { return std::bit_cast<float>(uint32_t(bf16) << 16); }

float mxfp4_scale(uint8_t e) {
    // 2^(e - 128) as float bits: a biased exponent of e - 1 from e = 2 on; below that the
    // subnormals 2^-128 (bit 21) and 2^-127 (bit 22).
    uint32_t bits = e < 2 ? 0x00200000u << e : uint32_t(e - 1) << 23;
    return std::bit_cast<float>(bits);
}

std::vector<uint8_t> encode_matrix(WeightFormat format, const std::vector<float>& values, size_t rows,
                                   size_t row_len) {
    if (values.size() != rows * row_len)
        throw Error(ErrorCode::InvalidArgument, "encode_matrix: " + std::to_string(values.size()) +
                                                    " values for a " + std::to_string(rows) + "x" +
                                                    std::to_string(row_len) + " matrix");
    std::vector<uint8_t> out(rows * row_bytes(format, row_len));
    const float* x = values.data();
    uint8_t* o = out.data();
    size_t n_blocks = values.size() / block_values(format);
    switch (format) {
        case WeightFormat::F32:
            for (size_t i = 0; i < values.size(); ++i)
                detail::put_u32(&o[i * 4], std::bit_cast<uint32_t>(x[i]));
            break;
        case WeightFormat::F16:
            for (size_t i = 0; i < values.size(); ++i) detail::put_u16(&o[i * 2], float_to_half(x[i]));
            break;
        case WeightFormat::BF16:
            for (size_t i = 0; i < values.size(); ++i) detail::put_u16(&o[i * 2], float_to_bf16(x[i]));
            break;
        case WeightFormat::Q4_0: detail::encode_q4_0(x, o, n_blocks); break;
        case WeightFormat::Q4_1: detail::encode_q4_1(x, o, n_blocks); break;
        case WeightFormat::Q5_0: detail::encode_q5_0(x, o, n_blocks); break;
        case WeightFormat::Q5_1: detail::encode_q5_1(x, o, n_blocks); break;
        case WeightFormat::Q8_0: detail::encode_q8_0(x, o, n_blocks); break;
        case WeightFormat::Q4_K: detail::encode_q4_k(x, o, n_blocks); break;
        case WeightFormat::Q5_K: detail::encode_q5_k(x, o, n_blocks); break;
        case WeightFormat::Q6_K: detail::encode_q6_k(x, o, n_blocks); break;
        case WeightFormat::MXFP4: detail::encode_mxfp4(x, o, n_blocks); break;
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
    const uint8_t* in = bytes.data();
    float* y = out.data();
    size_t n_blocks = out.size() / block_values(format);
    switch (format) {
        case WeightFormat::F32:
            for (size_t i = 0; i < out.size(); ++i) y[i] = std::bit_cast<float>(detail::get_u32(&in[i * 4]));
            break;
        case WeightFormat::F16:
            for (size_t i = 0; i < out.size(); ++i) y[i] = half_to_float(detail::get_u16(&in[i * 2]));
            break;
        case WeightFormat::BF16:
            for (size_t i = 0; i < out.size(); ++i) y[i] = bf16_to_float(detail::get_u16(&in[i * 2]));
            break;
        case WeightFormat::Q4_0: detail::decode_q4_0(in, y, n_blocks); break;
        case WeightFormat::Q4_1: detail::decode_q4_1(in, y, n_blocks); break;
        case WeightFormat::Q5_0: detail::decode_q5_0(in, y, n_blocks); break;
        case WeightFormat::Q5_1: detail::decode_q5_1(in, y, n_blocks); break;
        case WeightFormat::Q8_0: detail::decode_q8_0(in, y, n_blocks); break;
        case WeightFormat::Q4_K: detail::decode_q4_k(in, y, n_blocks); break;
        case WeightFormat::Q5_K: detail::decode_q5_k(in, y, n_blocks); break;
        case WeightFormat::Q6_K: detail::decode_q6_k(in, y, n_blocks); break;
        case WeightFormat::MXFP4: detail::decode_mxfp4(in, y, n_blocks); break;
    }
    return out;
}

}  // namespace moevk::quant
