// A model's weights in device memory, uploaded once from the file's mapping: dense matrices as
// LinearWeights, norms and biases as f32 buffers, each layer's experts as DeviceMoeWeights.
// With page_experts the routed experts stay in the file: each Session pages them through an
// expert cache of its own, sized by its VRAM budget.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "gpu/context.h"
#include "model/model_file.h"
#include "moe/device_weights.h"
#include "runtime/linear.h"

namespace moevk::runtime {

struct DeviceMatrix {
    gpu::Buffer bytes;
    std::unique_ptr<LinearWeight> linear;
};

struct DeviceLayer {
    gpu::Buffer attn_norm, ffn_norm, q_norm, k_norm, q_bias, k_bias, v_bias;  // f32; empty when absent
    gpu::Buffer o_bias, sinks;                                                 // f32; empty when absent
    DeviceMatrix wq, wk, wv, wo;
    std::unique_ptr<moe::DeviceMoeWeights> moe;
};

struct DeviceModelOptions {
    // Leave the routed experts in the file for the sessions to page (the ModelFile must then
    // outlive the DeviceModel and its sessions). Everything else is uploaded.
    bool page_experts = false;
};

class DeviceModel {
public:
    // `progress(done, total)` is called after each layer's upload (model-loading bars).
    DeviceModel(gpu::Context& ctx, const model::ModelFile& model,
                const std::function<void(uint32_t, uint32_t)>& progress = {})
        : DeviceModel(ctx, model, DeviceModelOptions{}, progress) {}
    DeviceModel(gpu::Context& ctx, const model::ModelFile& model, const DeviceModelOptions& options,
                const std::function<void(uint32_t, uint32_t)>& progress = {});

    const model::ModelConfig& config() const { return config_; }
    quant::WeightFormat embed_format() const { return embed_format_; }
    const gpu::Buffer& token_embd() const { return token_embd_.bytes; }
    const gpu::Buffer& output_norm() const { return output_norm_; }
    const LinearWeight& output() const { return *output_linear_; }
    const std::vector<DeviceLayer>& layers() const { return layers_; }
    // Bytes of the weights uploaded (file formats), and of device memory they took (aligned).
    uint64_t bytes() const { return bytes_; }
    uint64_t device_bytes() const { return device_bytes_; }
    // With page_experts: the file the routed experts are read from; nullptr otherwise.
    const model::ModelFile* paged_file() const { return paged_file_; }
    bool experts_paged() const { return paged_file_ != nullptr; }

private:
    model::ModelConfig config_;
    quant::WeightFormat embed_format_;
    DeviceMatrix token_embd_;
    DeviceMatrix output_;  // empty bytes when tied to the embedding
    std::unique_ptr<LinearWeight> output_linear_;
    gpu::Buffer output_norm_;
    std::vector<DeviceLayer> layers_;
    uint64_t bytes_ = 0;
    uint64_t device_bytes_ = 0;
    const model::ModelFile* paged_file_ = nullptr;
};

}  // namespace moevk::runtime
