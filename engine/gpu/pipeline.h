// A compute pipeline built from an embedded SPIR-V module. Every shader takes its workgroup size
// as specialisation constant 0 (local_size_x_id = 0) and its buffers as device addresses in push
// constants, so all pipelines share one layout shape: no descriptor sets, one push range.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpu/vulkan.h"

namespace moevk::gpu {

class Context;

// Vulkan guarantees 128 bytes of push constants on every device.
constexpr uint32_t kPushConstantBytes = 128;

class ComputePipeline {
public:
    // spec[i] is specialisation constant i; spec[0] is the workgroup size in x.
    ComputePipeline(Context& ctx, const std::string& shader, const std::vector<uint32_t>& spec);
    ~ComputePipeline();
    ComputePipeline(const ComputePipeline&) = delete;
    ComputePipeline& operator=(const ComputePipeline&) = delete;

    VkPipeline handle() const { return pipeline_; }
    VkPipelineLayout layout() const { return layout_; }
    uint32_t local_size_x() const { return local_size_x_; }
    const std::string& name() const { return name_; }

private:
    Context& ctx_;
    std::string name_;
    uint32_t local_size_x_ = 1;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
};

}  // namespace moevk::gpu
