// The recording of a forward step's transformer parts around the MoE layers (embedding, the
// attention block, the residual adds), shared by a Session's own steps (one sequence) and by a
// BatchStep (one token of each of several sessions). Both record the same kernels in the same
// order for a sequence's rows, and every kernel computes a row from that row alone, so a
// sequence's results do not depend on which other rows share the step.
//
// A step's rows are the tokens of its sequences, one after the other. The norms, the linear
// layers and the MoE layer run over all rows at once; the rotary embedding, the KV-cache store
// and attention run per sequence, at its position and on its cache, so a token attends only to
// its own sequence.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "runtime/device_model.h"
#include "runtime/kernels.h"
#include "runtime/linear.h"

namespace moevk::runtime {

// A step's activations for up to `rows` rows, f32 (ids u32, host-visible: a step's inputs
// need no staging copy).
struct StepActivations {
    StepActivations(gpu::Context& ctx, const model::ModelConfig& c, uint32_t rows, const std::string& owner);

    gpu::Buffer ids;                          // [rows] token ids
    gpu::Buffer x, h, o;                      // [rows][d_model]: residual, normed, block output
    gpu::Buffer q, att;                       // [rows][q_dim]
    gpu::Buffer k, v;                         // [rows][kv_dim]
};

// One sequence's rows in a step and the KV cache they append to.
struct StepSequence {
    uint32_t first_row = 0;
    uint32_t tokens = 0;
    uint32_t position = 0;  // of its first token
    const std::vector<gpu::Buffer>* k_cache = nullptr;  // per layer [n_ctx][kv_dim]
    const std::vector<gpu::Buffer>* v_cache = nullptr;
    KvFormat kv_format = KvFormat::F32;
};

class ForwardRecorder {
public:
    // Linear layers of up to `matvec_max_tokens` rows run as matrix-vector products (whose rows
    // are independent); a batch of decode tokens passes its row count so that each row is
    // computed as a one-token step computes it.
    ForwardRecorder(gpu::Context& ctx, const DeviceModel& model, const StepActivations& act,
                    const LinearWorkspace& ws, uint32_t matvec_max_tokens = kLinearMatvecMaxTokens);

    // The token embeddings of act.ids into x, then a barrier.
    void input(gpu::CommandBuffer& cb, uint32_t rows) const;
    // Layer `layer`'s attention and its residual, then the MoE block's norm into h, then a barrier.
    void attention_block(gpu::CommandBuffer& cb, uint32_t layer, uint32_t rows,
                         std::span<const StepSequence> sequences) const;
    // x += o, then a barrier; the caller places the barrier after the MoE layer's writes.
    void residual(gpu::CommandBuffer& cb, uint32_t rows) const;
    // The output norm of `rows` rows of x from `first_row` into h, a barrier, and the vocabulary
    // projection into `logits` [rows][n_vocab].
    void logits(gpu::CommandBuffer& cb, uint32_t first_row, uint32_t rows, VkDeviceAddress logits) const;

private:
    void linear(gpu::CommandBuffer& cb, const LinearWeight& w, const gpu::Buffer& x, const gpu::Buffer& y,
                uint32_t rows, const gpu::Buffer& bias = {}) const;

    gpu::Context& ctx_;
    const DeviceModel& model_;
    const StepActivations& act_;
    const LinearWorkspace& ws_;
    uint32_t matvec_max_tokens_;
};

}  // namespace moevk::runtime
