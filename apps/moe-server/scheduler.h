// The scheduler: N slots, each a moevk Session over the one shared Model, and a bounded queue
// of jobs waiting for a slot. One thread owns every session (the C API lets one thread use a
// session at a time, and the model is shared read-only) and moves all active slots together
// with continuous batching (moevk::Batch): each turn of its loop admits waiting jobs into free
// slots, then runs one batch step, in which the next token of every generating slot goes
// through one forward step (the MoE layers see T = active slots and read each selected expert
// once for all of them) and a slot still in its prompt takes one prompt step of its own. A job
// joins the batch at the turn after it is admitted, and leaves it when its generation ends.
// Batching changes no result: each reply is what its request gives alone with the same seed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <moevk/moevk.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "job.h"
#include "metrics.h"

namespace moeserver {

class Scheduler {
  public:
    // Creates `slots` sessions with `options` (they build their shaders now, so the first
    // request does not wait for that) and starts the thread.
    // `template_name` "" renders chats with the file's template.
    Scheduler(const moevk::Model& model, const moevk_session_options& options,
              std::string template_name, uint32_t slots, uint32_t queue_limit, Metrics& metrics);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Queues a job; false when every slot is taken and `queue_limit` jobs are already waiting
    // (the caller answers 503).
    bool submit(std::shared_ptr<Job> job);

    uint32_t slots() const { return static_cast<uint32_t>(slots_.size()); }

  private:
    struct Slot {
        std::unique_ptr<moevk::Session> session;
        std::shared_ptr<Job> job;  // null when free
        uint64_t last_used = 0;    // for ties in the prefix choice: the least recently used wins
        uint32_t prompt_tokens = 0, cached_tokens = 0;
    };

    void run();
    void admit();
    Slot* choose_slot(const Job& job);
    void begin(Slot& slot, std::shared_ptr<Job> job);
    // One batch step of every active slot (those whose client left stop first); false when
    // none was active.
    bool step_active();
    // After the step that reported `result` for the slot: ends its job when it is done (a
    // failure's message is `failure`).
    void conclude(Slot& slot, const moevk_step_result& result, const std::string& failure);
    void end(Slot& slot, Outcome outcome);
    void publish_state();
    // Queued jobs beyond the free slots: those that really wait (with mutex_ held).
    size_t waiting() const;

    Metrics& metrics_;
    std::string template_;
    uint32_t n_layers_, n_experts_;
    std::vector<Slot> slots_;
    std::unique_ptr<moevk::Batch> batch_;
    uint64_t uses_ = 0;

    std::mutex mutex_;  // guards queue_ and stopping_
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Job>> queue_;
    // Slots without a job. Jobs submitted in a burst sit in queue_ until the thread's next turn
    // admits them; the limit applies only to those beyond the free slots.
    size_t free_slots_ = 0;
    const uint32_t queue_limit_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace moeserver
