// The server's counters, written by the HTTP threads and the scheduler, read by /metrics
// (Prometheus text format) and /v1/internal/experts (the web page's chart).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace moeserver {

// Tokens routed to each expert of each layer, summed over the slots' sessions since start.
struct ExpertCounts {
    uint32_t layers = 0, experts = 0;
    std::vector<uint64_t> counts;  // [layers][experts]
};

class Metrics {
  public:
    void count_request(const std::string& route, int status);
    // One finished generation: prompt tokens evaluated, reused from a slot's cache, generated.
    void count_tokens(uint64_t evaluated, uint64_t cached, uint64_t generated,
                      double generate_seconds);
    // Each generated token, for the recent speed.
    void count_generated_token();
    // One batch step of the scheduler and the tokens it generated (one per generating slot).
    void count_batch_step(uint32_t tokens);
    void set_queue_depth(size_t depth);
    void set_slots(uint32_t active, uint32_t total);
    void set_expert_counts(uint32_t layers, uint32_t experts, std::vector<uint64_t> counts);

    ExpertCounts experts() const;
    // Generated tokens a second over the last few seconds, all slots together.
    double recent_tokens_per_second() const;
    std::string prometheus() const;

  private:
    using Clock = std::chrono::steady_clock;
    void prune(Clock::time_point now) const;

    mutable std::mutex mutex_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    uint64_t prompt_evaluated_ = 0, prompt_cached_ = 0, generated_ = 0;
    double generate_seconds_ = 0;
    mutable std::deque<Clock::time_point> recent_tokens_;
    size_t queue_depth_ = 0;
    uint64_t batch_steps_ = 0, batch_tokens_ = 0;
    uint32_t batch_tokens_max_ = 0;
    uint32_t active_slots_ = 0, slots_ = 0;
    ExpertCounts experts_;
    const Clock::time_point started_ = Clock::now();
};

}  // namespace moeserver
