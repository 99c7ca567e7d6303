// Runs a Session's forward steps as slices of pieces (Session::pieces: the embedding, each
// layer, the logits) on the compute queue, so that a caller with a frame to draw can submit
// about a budget's worth of GPU work and go on while it runs: the frame-budget mode of the C
// API. Each slice writes a GPU timestamp between its pieces, from which PieceCosts learns what
// the next slices will cost. A step with an unbounded budget is one slice: one command buffer,
// as Session::eval records it.
//
// A paged session must read each layer's routing back before its experts run, so it cannot
// hand a step out in pieces: submit() runs its whole step (Session::eval), blocking.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "runtime/piece_costs.h"
#include "runtime/session.h"

namespace moevk::runtime {

constexpr double kUnbounded = std::numeric_limits<double>::infinity();

class StepRunner {
public:
    StepRunner(gpu::Context& ctx, Session& session);
    // Waits for a slice still in flight.
    ~StepRunner();
    StepRunner(const StepRunner&) = delete;
    StepRunner& operator=(const StepRunner&) = delete;

    // Begins a step of `tokens` (at most the session's max_batch) at the session's position,
    // with Session::eval's errors for bad tokens or a full context.
    void begin(std::span<const uint32_t> tokens);
    // Begun and not yet finished.
    bool active() const { return active_; }
    // A slice was submitted and has not been seen to complete.
    bool in_flight() const { return in_flight_ != 0; }
    // Submits the next slice: as many of the step's remaining pieces as fit `budget_us`, at
    // least one. Needs an active step with nothing in flight.
    PieceCosts::Plan submit(double budget_us);
    // Whether nothing is in flight, without waiting: a slice that has completed is collected
    // (its timings learned; the step finished if it was the last).
    bool poll();
    // Waits for the slice in flight and collects it.
    void wait();
    // The step begun last has finished: its tokens are in the cache, and the session's
    // last_logits() are its last position's.
    bool finished() const { return finished_; }
    // After an error: waits for what is in flight (errors swallowed) and drops the step; the
    // session's position is what it was before begin().
    void abandon() noexcept;

    const PieceCosts& costs() const { return costs_; }

private:
    void collect();

    gpu::Context& ctx_;
    Session& session_;
    gpu::CommandBuffer commands_;
    std::unique_ptr<gpu::TimestampPool> timestamps_;  // null on a queue without timestamps
    PieceCosts costs_;
    std::vector<uint32_t> paged_tokens_;  // a paged step's tokens, for Session::eval
    bool active_ = false;
    bool finished_ = false;
    uint32_t next_piece_ = 0;    // the first piece not yet submitted
    uint32_t slice_first_ = 0;   // the slice in flight: its first piece and count
    uint32_t slice_pieces_ = 0;
    uint64_t in_flight_ = 0;     // its value on the compute timeline
};

}  // namespace moevk::runtime
