#include "moe/config.h"

#include <cmath>

#include "gpu/error.h"
#include "moe_config.h"

namespace moevk::moe {

static void require(bool ok, const std::string& message) {
    if (!ok) throw Error(ErrorCode::InvalidArgument, "MoE layer: " + message);
}

void validate(const MoeConfig& c) {
    require(c.d_model > 0, "d_model must be positive, got 0");
    require(c.d_ff > 0, "d_ff must be positive, got 0");
    require(c.n_experts > 0 && c.n_experts <= MOE_MAX_EXPERTS,
            "n_experts must be in 1.." + std::to_string(MOE_MAX_EXPERTS) + ", got " +
                std::to_string(c.n_experts));
    require(c.top_k > 0 && c.top_k <= MOE_MAX_TOP_K,
            "top_k must be in 1.." + std::to_string(MOE_MAX_TOP_K) + ", got " + std::to_string(c.top_k));
    require(c.top_k <= c.n_experts, "top_k (" + std::to_string(c.top_k) +
                                        ") must not exceed n_experts (" + std::to_string(c.n_experts) + ")");
    require(std::isfinite(c.weight_scale), "weight_scale must be finite");
    require(c.capacity_factor >= 0 && std::isfinite(c.capacity_factor),
            "capacity_factor must be 0 (off) or positive, got " + std::to_string(c.capacity_factor));
    // Rows of a matrix are whole blocks of the format (throws naming the length otherwise).
    quant::row_bytes(c.format, c.d_model);
    quant::row_bytes(c.format, c.d_ff);
    if (c.d_ff_shared) quant::row_bytes(c.format, c.d_ff_shared);
    require(c.d_ff <= 65535 && c.d_model <= 65535 && c.d_ff_shared <= 65535,
            "d_model, d_ff and d_ff_shared must be at most 65535");
}

uint32_t capacity_rows(const MoeConfig& c, uint32_t tokens) {
    if (c.capacity_factor <= 0) return kUncapped;
    double rows = std::ceil(static_cast<double>(c.capacity_factor) * tokens * c.top_k / c.n_experts);
    return static_cast<uint32_t>(std::min<double>(rows, kUncapped - 1.0));
}

const char* gating_name(Gating g) {
    switch (g) {
        case Gating::Softmax:
            return "softmax";
        case Gating::Sigmoid:
            return "sigmoid";
        case Gating::SoftmaxSelected:
            return "softmax-selected";
    }
    return "?";
}

std::string describe(const MoeConfig& c) {
    std::string s = "d=" + std::to_string(c.d_model) + " ff=" + std::to_string(c.d_ff) +
                    " E=" + std::to_string(c.n_experts) + " K=" + std::to_string(c.top_k) + " " +
                    quant::format_name(c.format) + " " + gating_name(c.gating);
    if (c.selection_bias) s += "+bias";
    if (c.router_bias) s += " router-bias";
    if (c.expert_biases) s += " expert-biases";
    if (c.activation == Activation::SwiGluClamped) s += " swiglu-clamped";
    if (!c.renormalize) s += " no-renorm";
    if (c.capacity_factor > 0) s += " C=" + std::to_string(c.capacity_factor);
    if (c.d_ff_shared) s += " shared=" + std::to_string(c.d_ff_shared) + (c.shared_gated ? "(gated)" : "");
    return s;
}

}  // namespace moevk::moe
