#include "gpu/pipeline.h"

#include <string_view>

#include "gpu/context.h"
#include "gpu/embedded_shaders.h"
#include "gpu/error.h"

namespace moevk::gpu {

const EmbeddedShader& find_embedded_shader(std::string_view name) {
    for (const EmbeddedShader& s : embedded_shaders())
        if (name == s.name) return s;
    throw Error(ErrorCode::MissingShader, "no embedded shader named \"" + std::string(name) + "\"");
}

ComputePipeline::ComputePipeline(Context& ctx, const std::string& shader,
                                 const std::vector<uint32_t>& spec)
    : ctx_(ctx), name_(shader), local_size_x_(spec.empty() ? 1 : spec[0]) {
    const EmbeddedShader& spv = find_embedded_shader(shader);
    const VolkDeviceTable& vk = ctx.vk();
    if (local_size_x_ == 0 || local_size_x_ > ctx.info().max_workgroup_invocations)
        throw Error(ErrorCode::InvalidArgument,
                    "shader " + shader + ": workgroup size " + std::to_string(local_size_x_) +
                        " is outside 1.." + std::to_string(ctx.info().max_workgroup_invocations));

    VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantBytes};
    VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    layout_info.pushConstantRangeCount = 1;
    layout_info.pPushConstantRanges = &push;
    MOEVK_VK_CHECK(vk.vkCreatePipelineLayout(ctx.device(), &layout_info, nullptr, &layout_));

    VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    module_info.codeSize = spv.word_count * sizeof(uint32_t);
    module_info.pCode = spv.words;
    VkShaderModule module = VK_NULL_HANDLE;
    VkResult result = vk.vkCreateShaderModule(ctx.device(), &module_info, nullptr, &module);
    if (result != VK_SUCCESS) {
        vk.vkDestroyPipelineLayout(ctx.device(), layout_, nullptr);
        throw Error(ErrorCode::Vulkan, "shader " + shader + ": vkCreateShaderModule failed with " +
                                           vk_result_name(result));
    }

    std::vector<VkSpecializationMapEntry> entries;
    for (uint32_t i = 0; i < spec.size(); ++i)
        entries.push_back({i, i * static_cast<uint32_t>(sizeof(uint32_t)), sizeof(uint32_t)});
    VkSpecializationInfo spec_info{static_cast<uint32_t>(entries.size()), entries.data(),
                                   spec.size() * sizeof(uint32_t), spec.data()};

    VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    info.stage.module = module;
    info.stage.pName = "main";
    info.stage.pSpecializationInfo = spec.empty() ? nullptr : &spec_info;
    info.layout = layout_;
    result = vk.vkCreateComputePipelines(ctx.device(), ctx.pipeline_cache(), 1, &info, nullptr, &pipeline_);
    vk.vkDestroyShaderModule(ctx.device(), module, nullptr);
    if (result != VK_SUCCESS) {
        vk.vkDestroyPipelineLayout(ctx.device(), layout_, nullptr);
        throw Error(ErrorCode::Vulkan, "shader " + shader + ": vkCreateComputePipelines failed with " +
                                           vk_result_name(result));
    }
}

ComputePipeline::~ComputePipeline() {
    ctx_.vk().vkDestroyPipeline(ctx_.device(), pipeline_, nullptr);
    ctx_.vk().vkDestroyPipelineLayout(ctx_.device(), layout_, nullptr);
}

}  // namespace moevk::gpu
