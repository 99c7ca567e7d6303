// Weight formats the expert kernels read, stored exactly as GGUF stores them.
//   F32, F16: plain little-endian values
//   Q8_0: blocks of 32 values: f16 scale d, then 32 int8 q; value = d * q (34 bytes a block)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moevk::quant {

enum class WeightFormat { F32, F16, Q8_0 };

constexpr size_t kQ8_0BlockValues = 32;
constexpr size_t kQ8_0BlockBytes = 34;

const char* format_name(WeightFormat format);  // "f32", "f16", "q8_0"
std::optional<WeightFormat> parse_format(std::string_view name);

// Values per block of the format: rows must be a whole number of blocks.
size_t block_values(WeightFormat format);
// Bytes of one row of `row_len` values; throws Error(InvalidArgument) when row_len does not
// fill whole blocks.
size_t row_bytes(WeightFormat format, size_t row_len);

uint16_t float_to_half(float value);  // round to nearest even
float half_to_float(uint16_t half);

// Row-major [rows][row_len] matrix in `format`, and back to floats (the dequantised weights).
std::vector<uint8_t> encode_matrix(WeightFormat format, const std::vector<float>& values, size_t rows,
                                   size_t row_len);
std::vector<float> decode_matrix(WeightFormat format, const std::vector<uint8_t>& bytes, size_t rows,
                                 size_t row_len);

}  // namespace moevk::quant
