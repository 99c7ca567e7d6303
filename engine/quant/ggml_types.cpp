#include "quant/ggml_types.h"

namespace moevk::quant {

std::optional<GgmlTypeInfo> ggml_type_info(uint32_t id) {
    switch (static_cast<GgmlType>(id)) {
        case GgmlType::F32: return GgmlTypeInfo{"f32", 1, 4};
        case GgmlType::F16: return GgmlTypeInfo{"f16", 1, 2};
        case GgmlType::Q4_0: return GgmlTypeInfo{"q4_0", 32, 18};
        case GgmlType::Q4_1: return GgmlTypeInfo{"q4_1", 32, 20};
        case GgmlType::Q5_0: return GgmlTypeInfo{"q5_0", 32, 22};
        case GgmlType::Q5_1: return GgmlTypeInfo{"q5_1", 32, 24};
        case GgmlType::Q8_0: return GgmlTypeInfo{"q8_0", 32, 34};
        case GgmlType::Q8_1: return GgmlTypeInfo{"q8_1", 32, 36};
        case GgmlType::Q2_K: return GgmlTypeInfo{"q2_K", 256, 84};
        case GgmlType::Q3_K: return GgmlTypeInfo{"q3_K", 256, 110};
        case GgmlType::Q4_K: return GgmlTypeInfo{"q4_K", 256, 144};
        case GgmlType::Q5_K: return GgmlTypeInfo{"q5_K", 256, 176};
        case GgmlType::Q6_K: return GgmlTypeInfo{"q6_K", 256, 210};
        case GgmlType::Q8_K: return GgmlTypeInfo{"q8_K", 256, 292};
        case GgmlType::IQ2_XXS: return GgmlTypeInfo{"iq2_xxs", 256, 66};
        case GgmlType::IQ2_XS: return GgmlTypeInfo{"iq2_xs", 256, 74};
        case GgmlType::IQ3_XXS: return GgmlTypeInfo{"iq3_xxs", 256, 98};
        case GgmlType::IQ1_S: return GgmlTypeInfo{"iq1_s", 256, 50};
        case GgmlType::IQ4_NL: return GgmlTypeInfo{"iq4_nl", 32, 18};
        case GgmlType::IQ3_S: return GgmlTypeInfo{"iq3_s", 256, 110};
        case GgmlType::IQ2_S: return GgmlTypeInfo{"iq2_s", 256, 82};
        case GgmlType::IQ4_XS: return GgmlTypeInfo{"iq4_xs", 256, 136};
        case GgmlType::I8: return GgmlTypeInfo{"i8", 1, 1};
        case GgmlType::I16: return GgmlTypeInfo{"i16", 1, 2};
        case GgmlType::I32: return GgmlTypeInfo{"i32", 1, 4};
        case GgmlType::I64: return GgmlTypeInfo{"i64", 1, 8};
        case GgmlType::F64: return GgmlTypeInfo{"f64", 1, 8};
        case GgmlType::IQ1_M: return GgmlTypeInfo{"iq1_m", 256, 56};
        case GgmlType::BF16: return GgmlTypeInfo{"bf16", 1, 2};
        case GgmlType::TQ1_0: return GgmlTypeInfo{"tq1_0", 256, 54};
        case GgmlType::TQ2_0: return GgmlTypeInfo{"tq2_0", 256, 66};
        case GgmlType::MXFP4: return GgmlTypeInfo{"mxfp4", 32, 17};
    }
    return std::nullopt;
}

std::optional<WeightFormat> to_weight_format(GgmlType type) {
    switch (type) {
        case GgmlType::F32: return WeightFormat::F32;
        case GgmlType::F16: return WeightFormat::F16;
        case GgmlType::BF16: return WeightFormat::BF16;
        case GgmlType::Q4_0: return WeightFormat::Q4_0;
        case GgmlType::Q4_1: return WeightFormat::Q4_1;
        case GgmlType::Q5_0: return WeightFormat::Q5_0;
        case GgmlType::Q5_1: return WeightFormat::Q5_1;
        case GgmlType::Q8_0: return WeightFormat::Q8_0;
        case GgmlType::Q4_K: return WeightFormat::Q4_K;
        case GgmlType::Q5_K: return WeightFormat::Q5_K;
        case GgmlType::Q6_K: return WeightFormat::Q6_K;
        case GgmlType::MXFP4: return WeightFormat::MXFP4;
        default: return std::nullopt;
    }
}

GgmlType to_ggml_type(WeightFormat format) {
    switch (format) {
        case WeightFormat::F32: return GgmlType::F32;
        case WeightFormat::F16: return GgmlType::F16;
        case WeightFormat::BF16: return GgmlType::BF16;
        case WeightFormat::Q4_0: return GgmlType::Q4_0;
        case WeightFormat::Q4_1: return GgmlType::Q4_1;
        case WeightFormat::Q5_0: return GgmlType::Q5_0;
        case WeightFormat::Q5_1: return GgmlType::Q5_1;
        case WeightFormat::Q8_0: return GgmlType::Q8_0;
        case WeightFormat::Q4_K: return GgmlType::Q4_K;
        case WeightFormat::Q5_K: return GgmlType::Q5_K;
        case WeightFormat::Q6_K: return GgmlType::Q6_K;
        case WeightFormat::MXFP4: return GgmlType::MXFP4;
    }
    return GgmlType::F32;
}

}  // namespace moevk::quant
