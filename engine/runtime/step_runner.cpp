#include "runtime/step_runner.h"

#include "gpu/error.h"

namespace moevk::runtime {

StepRunner::StepRunner(gpu::Context& ctx, Session& session)
    : ctx_(ctx), session_(session), commands_(ctx, ctx.compute_queue()), costs_(session.pieces()) {
    // One timestamp before the slice and one after each of its pieces.
    if (ctx.info().timestamp_period_ns > 0)
        timestamps_ = std::make_unique<gpu::TimestampPool>(ctx, session.pieces() + 1);
}

StepRunner::~StepRunner() { abandon(); }

void StepRunner::begin(std::span<const uint32_t> tokens) {
    if (in_flight_) throw Error(ErrorCode::InvalidArgument, "step runner: a slice is still in flight");
    finished_ = false;
    active_ = false;
    if (session_.paged()) {
        // Session::eval checks them when it runs; check now, as begin_pieces does.
        if (tokens.empty()) throw Error(ErrorCode::InvalidArgument, "session: no tokens to evaluate");
        paged_tokens_.assign(tokens.begin(), tokens.end());
    } else {
        session_.begin_pieces(tokens);
    }
    next_piece_ = 0;
    active_ = true;
}

PieceCosts::Plan StepRunner::submit(double budget_us) {
    if (!active_ || in_flight_) throw Error(ErrorCode::InvalidArgument, "step runner: nothing to submit");
    const uint32_t total = session_.pieces();
    if (session_.paged()) {
        session_.eval(paged_tokens_, false);
        PieceCosts::Plan whole{total - next_piece_, 0};
        next_piece_ = total;
        active_ = false;
        finished_ = true;
        return whole;
    }
    const uint32_t tokens = session_.piece_tokens();
    PieceCosts::Plan plan = costs_.plan(next_piece_, total - next_piece_, tokens, budget_us);
    // Without timestamps nothing is learned: a bounded budget gets one piece a slice.
    if (!timestamps_ && budget_us != kUnbounded) plan.pieces = 1;
    if (budget_us == kUnbounded) plan.pieces = total - next_piece_;

    commands_.begin();
    // Orders this slice after the previous one's writes (an earlier submission on the queue).
    commands_.barrier();
    if (timestamps_) {
        commands_.reset_timestamps(*timestamps_);
        commands_.timestamp(*timestamps_, 0);
    }
    for (uint32_t i = 0; i < plan.pieces; ++i) {
        session_.record_piece(commands_, next_piece_ + i);
        if (timestamps_) commands_.timestamp(*timestamps_, i + 1);
    }
    commands_.end();
    slice_first_ = next_piece_;
    slice_pieces_ = plan.pieces;
    in_flight_ = ctx_.submit(ctx_.compute_queue(), commands_.handle());
    next_piece_ += plan.pieces;
    return plan;
}

bool StepRunner::poll() {
    if (!in_flight_) return true;
    if (ctx_.completed(ctx_.compute_queue()) < in_flight_) return false;
    collect();
    return true;
}

void StepRunner::wait() {
    if (!in_flight_) return;
    ctx_.wait(ctx_.compute_queue(), in_flight_);
    collect();
}

void StepRunner::collect() {
    in_flight_ = 0;
    if (timestamps_) {
        std::vector<double> ns = timestamps_->read_ns(slice_pieces_ + 1);
        for (uint32_t i = 0; i < slice_pieces_; ++i)
            costs_.observe(slice_first_ + i, session_.piece_tokens(), (ns[i + 1] - ns[i]) / 1000.0);
    }
    if (next_piece_ == session_.pieces()) {
        session_.finish_pieces();
        active_ = false;
        finished_ = true;
    }
}

void StepRunner::abandon() noexcept {
    if (in_flight_) {
        try {
            ctx_.wait(ctx_.compute_queue(), in_flight_);
        } catch (...) {
            // A lost device: nothing more to wait for.
        }
        in_flight_ = 0;
    }
    active_ = false;
    finished_ = false;
}

}  // namespace moevk::runtime
