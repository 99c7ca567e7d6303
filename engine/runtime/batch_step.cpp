#include "runtime/batch_step.h"

#include <algorithm>
#include <vector>

#include "gpu/error.h"
#include "moe/stages.h"

namespace moevk::runtime {
namespace {

// Sessions one batched step may carry. The matrix-vector kernels put the (token, expert) pairs
// in one dispatch dimension of at most 65535 workgroups; a server has far fewer slots anyway.
constexpr uint32_t kMaxBatchSessions = 256;

uint32_t checked_max_sessions(const model::ModelConfig& c, uint32_t max_sessions) {
    uint32_t limit = std::min({kMaxBatchSessions, 65535u / std::max(c.moe.top_k, 1u),
                               moe::max_step_tokens(c.moe.top_k, c.moe.n_experts)});
    if (max_sessions == 0 || max_sessions > limit)
        throw Error(ErrorCode::InvalidArgument, "batch: max_sessions must be in 1.." + std::to_string(limit) +
                                                    " for this model, got " + std::to_string(max_sessions));
    return max_sessions;
}

moe::LayerOptions matvec_for(uint32_t rows) {
    moe::LayerOptions o;
    o.matvec_max_tokens = rows;
    return o;
}

}  // namespace

BatchStep::BatchStep(gpu::Context& ctx, const DeviceModel& model, uint32_t max_sessions)
    : ctx_(ctx),
      model_(model),
      max_sessions_(checked_max_sessions(model.config(), max_sessions)),
      linear_ws_(ctx, max_sessions_),
      moe_(ctx, model.config().moe, max_sessions_, matvec_for(max_sessions_)),
      act_(ctx, model.config(), max_sessions_, "batch"),
      forward_(ctx, model, act_, linear_ws_, max_sessions_),
      logits_(ctx.allocate(uint64_t(max_sessions_) * model.config().n_vocab * 4, gpu::MemoryKind::Device,
                           "batch logits")),
      commands_(ctx, ctx.compute_queue()) {}

std::string BatchStep::refusal(const Session& session) const {
    if (&session.model() != &model_) return "the session is on another model than the batch";
    if (model_.experts_paged())
        return "the model's experts are paged, and each session pages them through a cache of its own";
    if (model_.config().moe.capacity_factor > 0)
        return "the model's experts have a capacity limit, which would drop pairs by what the other tokens chose";
    return "";
}

void BatchStep::check(std::span<Session* const> sessions, std::span<const uint32_t> tokens) const {
    if (sessions.size() != tokens.size())
        throw Error(ErrorCode::InvalidArgument, "batch: " + std::to_string(sessions.size()) + " sessions and " +
                                                    std::to_string(tokens.size()) + " tokens");
    if (sessions.empty() || sessions.size() > max_sessions_)
        throw Error(ErrorCode::InvalidArgument, "batch: a step takes 1.." + std::to_string(max_sessions_) +
                                                    " sessions, got " + std::to_string(sessions.size()));
    for (size_t i = 0; i < sessions.size(); ++i) {
        const std::string at = "batch: session " + std::to_string(i) + ": ";
        if (!sessions[i]) throw Error(ErrorCode::InvalidArgument, at + "null");
        for (size_t j = 0; j < i; ++j)
            if (sessions[j] == sessions[i])
                throw Error(ErrorCode::InvalidArgument, at + "the same session as session " + std::to_string(j));
        if (std::string why = refusal(*sessions[i]); !why.empty()) throw Error(ErrorCode::InvalidArgument, at + why);
        try {
            sessions[i]->check_tokens(tokens.subspan(i, 1));
        } catch (const Error& e) {
            throw Error(e.code(), at + e.what());
        }
    }
}

void BatchStep::run(std::span<Session* const> sessions, std::span<const uint32_t> tokens) {
    check(sessions, tokens);
    const uint32_t R = static_cast<uint32_t>(sessions.size());
    gpu::upload(ctx_, act_.ids, tokens.data(), uint64_t(R) * 4);
    commands_.begin();
    record(commands_, sessions);
    commands_.submit_and_wait();
    // Every session's logits are checked before any position moves: a failure changes none.
    for (uint32_t i = 0; i < R; ++i) {
        try {
            sessions[i]->check_last_logits(1);
        } catch (const Error& e) {
            throw Error(e.code(), "batch: session " + std::to_string(i) + ": " + e.what());
        }
    }
    for (Session* s : sessions) s->advance_position(1);
}

void BatchStep::record(gpu::CommandBuffer& cb, std::span<Session* const> sessions) {
    const model::ModelConfig& c = model_.config();
    const uint32_t R = static_cast<uint32_t>(sessions.size());
    rows_.clear();  // kept between steps: no allocation per token
    for (uint32_t i = 0; i < R; ++i) {
        StepSequence s = sessions[i]->sequence(1);
        s.first_row = i;
        rows_.push_back(s);
        sessions[i]->begin_expert_record();
    }
    forward_.input(cb, R);
    for (uint32_t l = 0; l < c.n_layers; ++l) {
        forward_.attention_block(cb, l, R, rows_);
        const moe::DeviceMoeWeights& w = *model_.layers()[l].moe;
        moe_.record(cb, w, act_.h.address(), act_.o.address(), R, nullptr, w.expert_table());
        cb.barrier();
        for (uint32_t i = 0; i < R; ++i)
            if (sessions[i]->options().record_experts)
                sessions[i]->record_expert_copy(cb, moe_.workspace().ids, l, i, 1);
        forward_.residual(cb, R);
    }
    forward_.logits(cb, 0, R, logits_.address());
    cb.barrier();
    const uint64_t row = uint64_t(c.n_vocab) * 4;
    for (uint32_t i = 0; i < R; ++i) cb.copy(logits_, i * row, sessions[i]->last_logits_, 0, row);
}

}  // namespace moevk::runtime
