// The tensor type ids GGUF files use (ggml's type enum) and their block geometry. The table
// knows every type a file may hold, so the GGUF reader can check any tensor's byte range; which
// of them the kernels can read is a separate question (to_weight_format).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "quant/formats.h"

namespace moevk::quant {

enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
    IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct GgmlTypeInfo {
    const char* name;      // as llama.cpp names it: "q4_K", "bf16", ...
    uint32_t block_values;  // values per block (1 for plain types)
    uint32_t block_bytes;   // bytes per block
};

// nullopt for an id no ggml version has used (a corrupt or future file).
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t id);

// The kernels' format for a ggml type, nullopt where no kernel reads it.
std::optional<WeightFormat> to_weight_format(GgmlType type);
GgmlType to_ggml_type(WeightFormat format);

}  // namespace moevk::quant
