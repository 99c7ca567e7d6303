// A layer's weights in device memory. Each expert matrix is its own buffer; the kernels find
// them through the expert table (entry e*3 + {gate, up, down} holds a device address). With
// expert paging the routed experts are not uploaded here: the expert cache owns slots and a
// table of its own, and points each entry at the slot its expert was uploaded to.
#pragma once

#include <vector>

#include "gpu/context.h"
#include "gpu/memory.h"
#include "moe/stages.h"
#include "moe/weights.h"

namespace moevk::moe {

class DeviceMoeWeights {
public:
    // Checks every array against the config (naming the expert and matrix that does not fit),
    // then uploads; the routed experts only with `routed_experts`.
    DeviceMoeWeights(gpu::Context& ctx, const MoeWeightsView& weights, bool routed_experts = true);
    DeviceMoeWeights(gpu::Context& ctx, const MoeWeights& weights) : DeviceMoeWeights(ctx, view(weights)) {}

    const MoeConfig& config() const { return config_; }
    const ExpertFormats& formats() const { return formats_; }
    const ExpertFormats& shared_formats() const { return shared_formats_; }
    VkDeviceAddress router() const { return router_.address(); }
    VkDeviceAddress selection_bias() const { return bias_ ? bias_.address() : 0; }
    VkDeviceAddress router_bias() const { return router_bias_ ? router_bias_.address() : 0; }
    // The routed experts' biases and activation for their gate/up and down passes. A shared
    // expert takes the activation only: ExpertEpilogue{0, 0, config().activation}.
    ExpertEpilogue gate_up_epilogue() const;
    ExpertEpilogue down_epilogue() const;
    // Bytes of the router and expert biases (resident even with paging).
    uint64_t bias_bytes() const;
    // 0 when the routed experts were left to paging.
    VkDeviceAddress expert_table() const { return table_ ? table_.address() : 0; }
    VkDeviceAddress shared_table() const { return shared_table_ ? shared_table_.address() : 0; }
    VkDeviceAddress shared_gate() const { return shared_gate_ ? shared_gate_.address() : 0; }
    // Bytes of one routed expert's three matrices in its format.
    uint64_t expert_bytes() const;
    uint64_t shared_expert_bytes() const;

private:
    MoeConfig config_;
    ExpertFormats formats_;
    ExpertFormats shared_formats_;
    gpu::Buffer router_;
    gpu::Buffer bias_;
    gpu::Buffer router_bias_;
    gpu::Buffer gate_bias_, up_bias_, down_bias_;
    gpu::Buffer shared_gate_;
    std::vector<gpu::Buffer> matrices_;  // routed experts' gate, up, down, then the shared expert's
    gpu::Buffer table_;
    gpu::Buffer shared_table_;
};

}  // namespace moevk::moe
