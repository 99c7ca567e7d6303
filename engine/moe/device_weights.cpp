#include "moe/device_weights.h"

#include <string>

#include "gpu/commands.h"
#include "gpu/error.h"

namespace moevk::moe {
namespace {

void require_size(size_t actual, size_t expected, const std::string& what) {
    if (actual != expected)
        throw Error(ErrorCode::InvalidArgument, "MoE weights: " + what + " has " + std::to_string(actual) +
                                                    " bytes, expected " + std::to_string(expected));
}

void check_expert(const ExpertView& m, const ExpertFormats& f, const MoeConfig& c, uint32_t d_ff,
                  const std::string& name) {
    size_t in_bytes = size_t(d_ff) * quant::row_bytes(f.gate_up, c.d_model);
    size_t down_bytes = size_t(c.d_model) * quant::row_bytes(f.down, d_ff);
    require_size(m.gate.size(), in_bytes, name + " gate");
    require_size(m.up.size(), in_bytes, name + " up");
    require_size(m.down.size(), down_bytes, name + " down");
}

gpu::Buffer upload_new(gpu::Context& ctx, const void* data, size_t bytes, const std::string& what) {
    gpu::Buffer b = ctx.allocate(bytes, gpu::MemoryKind::Device, what);
    gpu::upload(ctx, b, data, bytes);
    return b;
}

}  // namespace

DeviceMoeWeights::DeviceMoeWeights(gpu::Context& ctx, const MoeWeightsView& w, bool routed_experts)
    : config_(w.config), formats_(w.formats), shared_formats_(w.shared_formats) {
    const MoeConfig& c = config_;
    validate(c);
    require_size(w.router.size() * 4, size_t(c.n_experts) * c.d_model * 4, "router");
    if (c.selection_bias) require_size(w.selection_bias.size() * 4, size_t(c.n_experts) * 4, "selection bias");
    if (w.experts.size() != c.n_experts)
        throw Error(ErrorCode::InvalidArgument, "MoE weights: " + std::to_string(w.experts.size()) +
                                                    " experts given, config says " + std::to_string(c.n_experts));
    for (uint32_t e = 0; e < c.n_experts; ++e) check_expert(w.experts[e], formats_, c, c.d_ff, "expert " + std::to_string(e));
    if (c.d_ff_shared) {
        check_expert(w.shared, shared_formats_, c, c.d_ff_shared, "shared expert");
        if (c.shared_gated) require_size(w.shared_gate.size() * 4, size_t(c.d_model) * 4, "shared expert gate");
    }
    if (c.router_bias) require_size(w.router_bias.size() * 4, size_t(c.n_experts) * 4, "router bias");
    if (c.expert_biases) {
        require_size(w.gate_bias.size() * 4, size_t(c.n_experts) * c.d_ff * 4, "expert gate biases");
        require_size(w.up_bias.size() * 4, size_t(c.n_experts) * c.d_ff * 4, "expert up biases");
        require_size(w.down_bias.size() * 4, size_t(c.n_experts) * c.d_model * 4, "expert down biases");
    }

    router_ = upload_new(ctx, w.router.data(), w.router.size() * 4, "router weights");
    if (c.selection_bias) bias_ = upload_new(ctx, w.selection_bias.data(), c.n_experts * 4, "selection bias");
    if (c.router_bias) router_bias_ = upload_new(ctx, w.router_bias.data(), c.n_experts * 4, "router bias");
    // Resident even when the experts are paged: small, and indexed by expert id in the kernels.
    if (c.expert_biases) {
        gate_bias_ = upload_new(ctx, w.gate_bias.data(), w.gate_bias.size_bytes(), "expert gate biases");
        up_bias_ = upload_new(ctx, w.up_bias.data(), w.up_bias.size_bytes(), "expert up biases");
        down_bias_ = upload_new(ctx, w.down_bias.data(), w.down_bias.size_bytes(), "expert down biases");
    }

    auto upload_expert = [&](const ExpertView& m, const std::string& name) {
        std::vector<VkDeviceAddress> addresses;
        for (const auto* bytes : {&m.gate, &m.up, &m.down}) {
            matrices_.push_back(upload_new(ctx, bytes->data(), bytes->size(), name));
            addresses.push_back(matrices_.back().address());
        }
        return addresses;
    };
    if (routed_experts) {
        std::vector<VkDeviceAddress> table;
        for (uint32_t e = 0; e < c.n_experts; ++e) {
            auto a = upload_expert(w.experts[e], "expert " + std::to_string(e));
            table.insert(table.end(), a.begin(), a.end());
        }
        table_ = upload_new(ctx, table.data(), table.size() * sizeof(VkDeviceAddress), "expert table");
    }
    if (c.d_ff_shared) {
        auto a = upload_expert(w.shared, "shared expert");
        shared_table_ = upload_new(ctx, a.data(), a.size() * sizeof(VkDeviceAddress), "shared expert table");
        if (c.shared_gated) shared_gate_ = upload_new(ctx, w.shared_gate.data(), c.d_model * 4, "shared expert gate");
    }
}

ExpertEpilogue DeviceMoeWeights::gate_up_epilogue() const {
    return {gate_bias_ ? gate_bias_.address() : 0, up_bias_ ? up_bias_.address() : 0, config_.activation};
}

ExpertEpilogue DeviceMoeWeights::down_epilogue() const {
    return {down_bias_ ? down_bias_.address() : 0, 0, config_.activation};
}

uint64_t DeviceMoeWeights::bias_bytes() const {
    return uint64_t(config_.router_bias ? config_.n_experts : 0) * 4 +
           (config_.expert_biases ? uint64_t(config_.n_experts) * (2 * config_.d_ff + config_.d_model) * 4 : 0);
}

static uint64_t ffn_bytes(const ExpertFormats& f, uint32_t d_model, uint32_t d_ff) {
    return uint64_t(d_ff) * quant::row_bytes(f.gate_up, d_model) * 2 + uint64_t(d_model) * quant::row_bytes(f.down, d_ff);
}

uint64_t DeviceMoeWeights::expert_bytes() const { return ffn_bytes(formats_, config_.d_model, config_.d_ff); }

uint64_t DeviceMoeWeights::shared_expert_bytes() const {
    return config_.d_ff_shared ? ffn_bytes(shared_formats_, config_.d_model, config_.d_ff_shared) : 0;
}

}  // namespace moevk::moe
