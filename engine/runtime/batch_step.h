// Continuous batching's forward step: one token of each of several sessions on one model, in one
// command buffer, so the dense layers and every MoE layer run once over all of them. Each token
// goes through its own session's rotary position and KV cache (it attends only to its own
// sequence), and its logits land in its session's last_logits(), as a one-token step of that
// session would leave them.
//
// Batching changes no result: the linear layers and the expert FFN run as matrix-vector
// products whose outputs are each a fixed function of their row (moe/expert_matvec.comp), and
// every other kernel computes a row from that row alone, so a session's logits are bit for bit
// those of its own one-token step. The rows of one expert run side by side in one dispatch, so a
// device reads that expert's weights from memory about once for all of them (its cache serves
// the rest); a kernel that shares the decoded weights among rows in registers is the next step.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "moe/layer.h"
#include "runtime/device_model.h"
#include "runtime/forward.h"
#include "runtime/linear.h"
#include "runtime/session.h"

namespace moevk::runtime {

class BatchStep {
public:
    // Scratch for up to `max_sessions` tokens (one per session); Error(InvalidArgument) for 0 or
    // past what one step of the model can hold.
    BatchStep(gpu::Context& ctx, const DeviceModel& model, uint32_t max_sessions);
    BatchStep(const BatchStep&) = delete;
    BatchStep& operator=(const BatchStep&) = delete;

    uint32_t max_sessions() const { return max_sessions_; }
    const DeviceModel& model() const { return model_; }
    // "" when `session` can join a batch, else why not: another model, paged experts (each
    // session pages into a cache of its own), or a model whose experts have a capacity limit
    // (it would drop pairs by what the other tokens chose).
    std::string refusal(const Session& session) const;

    // Runs tokens[i] in sessions[i] at its position, all in one forward step, waiting for it.
    // The sessions are distinct and each accepted by refusal(); at most max_sessions. Throws
    // what Session::eval throws for a bad token or a full context, naming the session's index,
    // before anything runs; an error during the step leaves every session's position unchanged.
    void run(std::span<Session* const> sessions, std::span<const uint32_t> tokens);

private:
    void check(std::span<Session* const> sessions, std::span<const uint32_t> tokens) const;
    void record(gpu::CommandBuffer& cb, std::span<Session* const> sessions);

    gpu::Context& ctx_;
    const DeviceModel& model_;
    uint32_t max_sessions_;
    LinearWorkspace linear_ws_;
    moe::MoeLayer moe_;
    StepActivations act_;
    ForwardRecorder forward_;
    gpu::Buffer logits_;  // [max_sessions][n_vocab] f32
    std::vector<StepSequence> rows_;  // the step's sequences, one row each
    gpu::CommandBuffer commands_;
};

}  // namespace moevk::runtime
