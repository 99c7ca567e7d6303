// Weight formats the expert kernels read, stored exactly as GGUF stores them (ggml's block
// layouts, little-endian). Rows are whole blocks and follow each other with no padding, so a
// matrix is a plain sequence of blocks. Per block:
//   F32, F16, BF16: one plain value (BF16 is the upper half of an f32)
//   Q4_0  32 values, 18 bytes: f16 d, qs[16]; value = d * (q - 8)
//   Q4_1  32 values, 20 bytes: f16 d, f16 m, qs[16]; value = d * q + m
//         (4-bit q: byte j holds value j in its low nibble and value j + 16 in its high one)
//   Q5_0  32 values, 22 bytes: f16 d, qh (u32), qs[16]; value = d * (q - 16)
//   Q5_1  32 values, 24 bytes: f16 d, f16 m, qh (u32), qs[16]; value = d * q + m
//         (low 4 bits as Q4_x, bit 4 of value i is bit i of qh)
//   Q8_0  32 values, 34 bytes: f16 d, int8 q[32]; value = d * q
//   Q4_K  256 values, 144 bytes: f16 d, f16 dmin, scales[12], qs[128]; eight sub-blocks of 32
//         with 6-bit scale sc and min m each; value = d * sc * q - dmin * m
//   Q5_K  256 values, 176 bytes: as Q4_K with qh[32] (the 5th bits) before qs
//   Q6_K  256 values, 210 bytes: ql[128], qh[64], int8 scales[16], f16 d (last); sixteen
//         sub-blocks of 16; value = d * scale * (q - 32)
//   MXFP4 32 values, 17 bytes: E8M0 exponent e, qs[16] of 4-bit E2M1 codes (nibbles as Q4_0);
//         value = kMxfp4Values[q] * 2^(e - 128): the table holds twice the E2M1 values and the
//         scale is half of 2^(e - 127), as ggml has them (gpt-oss's expert weights)
// The bit placement inside the K-quant blocks is described where they are decoded
// (k_quants.cpp) and in shaders/include/weights.glsl.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moevk::quant {

enum class WeightFormat { F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, MXFP4 };

// Every format, in the enum's order: for iterating (tests, help texts).
inline constexpr WeightFormat kWeightFormats[] = {
    WeightFormat::F32,  WeightFormat::F16,  WeightFormat::BF16, WeightFormat::Q4_0,
    WeightFormat::Q4_1, WeightFormat::Q5_0, WeightFormat::Q5_1, WeightFormat::Q8_0,
    WeightFormat::Q4_K, WeightFormat::Q5_K, WeightFormat::Q6_K, WeightFormat::MXFP4,
};

constexpr size_t kQ8_0BlockValues = 32;
constexpr size_t kQ8_0BlockBytes = 34;
constexpr size_t kSuperBlockValues = 256;  // QK_K: the K-quants' super-block
constexpr size_t kMxfp4BlockBytes = 17;

// MXFP4's E2M1 codes, doubled so they are integers (ggml's kvalues_mxfp4): bit 3 is the sign,
// so code 8 is a negative zero, which decodes to +0 as ggml's int8 table has it.
inline constexpr int8_t kMxfp4Values[16] = {0, 1,  2,  3,  4,  6,  8,  12,
                                            0, -1, -2, -3, -4, -6, -8, -12};
// The MXFP4 block scale for exponent byte e: 2^(e - 128), exact for every e (2^-128 and 2^-127
// are subnormal floats; e = 255 is 2^127, not a NaN: ggml gives it no special meaning).
float mxfp4_scale(uint8_t e);

// "f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_k", "q5_k", "q6_k", "mxfp4"
const char* format_name(WeightFormat format);
// Accepts the names above in any case ("Q4_K" and llama.cpp's "q4_K" too).
std::optional<WeightFormat> parse_format(std::string_view name);
// The names joined by ", ", for help texts and error messages.
std::string format_names();

// Values per block of the format: rows must be a whole number of blocks.
size_t block_values(WeightFormat format);
// Bytes of one block.
size_t block_bytes(WeightFormat format);
// Bytes of one row of `row_len` values; throws Error(InvalidArgument) when row_len does not
// fill whole blocks.
size_t row_bytes(WeightFormat format, size_t row_len);

uint16_t float_to_half(float value);  // round to nearest even
float half_to_float(uint16_t half);
uint16_t float_to_bf16(float value);  // round to nearest even; NaN stays a (quiet) NaN
float bf16_to_float(uint16_t bf16);

// Row-major [rows][row_len] matrix in `format`, and back to floats (the dequantised weights).
// The decode gives llama.cpp's dequantize_row_* results bit for bit. The encode rounds each
// block to nearest with simple scale choices (not llama-quantize's search): valid blocks whose
// error is what the format's step sizes allow. MXFP4's encode is ggml's reference quantiser
// (quantize_row_mxfp4_ref), byte for byte.
std::vector<uint8_t> encode_matrix(WeightFormat format, const std::vector<float>& values, size_t rows,
                                   size_t row_len);
std::vector<float> decode_matrix(WeightFormat format, const std::vector<uint8_t>& bytes, size_t rows,
                                 size_t row_len);

}  // namespace moevk::quant
