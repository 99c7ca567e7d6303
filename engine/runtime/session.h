// One conversation's state on the GPU: the KV cache and the scratch activations, and the forward
// step that runs a batch of tokens through the whole model in one command buffer. A prompt runs
// as batches (the grouped-GEMM path), generation one token at a time (matrix-vector products).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "moe/layer.h"
#include "runtime/device_model.h"
#include "runtime/kernels.h"
#include "runtime/linear.h"

namespace moevk::runtime {

struct SessionOptions {
    uint32_t n_ctx = 0;        // KV cache positions; 0: the model's training context, at most 4096
    uint32_t max_batch = 256;  // tokens per forward step; longer prompts run as several steps
    KvFormat kv_format = KvFormat::F32;
    // Keep each step's selected experts for selected_experts() (one small copy per layer).
    bool record_experts = false;
};

class Session {
public:
    Session(gpu::Context& ctx, const DeviceModel& model, SessionOptions options = {});

    // Runs `tokens` at the current position, appending them to the KV cache. Returns the logits
    // [T][n_vocab] of every token, or only the last token's [n_vocab] with `all_logits` false.
    // Throws Error(InvalidArgument) for a token outside the vocabulary or a full context; the
    // session is unchanged then.
    std::vector<float> eval(std::span<const uint32_t> tokens, bool all_logits = true);

    uint32_t position() const { return position_; }
    uint32_t n_ctx() const { return n_ctx_; }
    // Forgets the conversation (the cache is overwritten from position 0).
    void reset() { position_ = 0; }
    // Forgets every position from `position` on, keeping the earlier ones: a chat whose new
    // prompt shares only a prefix with what the cache holds continues from there.
    void truncate(uint32_t position) { position_ = std::min(position_, position); }

    // With record_experts: [layer][T][K] expert ids the last eval() selected, best first.
    const std::vector<std::vector<uint32_t>>& selected_experts() const { return experts_; }

private:
    void record_step(gpu::CommandBuffer& cb, uint32_t tokens, bool all_logits);

    gpu::Context& ctx_;
    const DeviceModel& model_;
    SessionOptions options_;
    uint32_t n_ctx_ = 0;
    uint32_t position_ = 0;
    LinearWorkspace linear_ws_;
    moe::MoeLayer moe_;
    std::vector<gpu::Buffer> k_cache_, v_cache_;  // per layer [n_ctx][kv_dim]
    gpu::Buffer ids_;                              // [max_batch] u32
    gpu::Buffer x_, h_, q_, k_, v_, att_, o_;      // activations, f32
    gpu::Buffer logits_;                           // [max_batch][n_vocab] f32
    gpu::Buffer last_logits_;                      // [n_vocab] f32, host-visible
    gpu::Buffer expert_ids_;                       // [layers][max_batch][K] u32 with record_experts
    gpu::CommandBuffer commands_;
    std::vector<std::vector<uint32_t>> experts_;
};

}  // namespace moevk::runtime
