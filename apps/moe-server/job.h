// One request as the scheduler runs it, and the channel between the HTTP thread that waits
// for its text and the scheduler thread that generates it. Only this file is shared by the two
// sides: the HTTP side never touches a session, the scheduler never touches a socket.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <moevk/moevk.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace moeserver {

// What to generate: a chat (messages, rendered by the model's template) or a plain prompt
// (token ids fed as they are). `prompt_tokens` is the prompt as the session will hold it, used
// to pick the slot whose cache shares the longest prefix with it.
struct JobInput {
    bool chat = true;
    std::vector<moevk::Message> messages;
    std::vector<int32_t> prompt_tokens;
    moevk_sampling sampling = moevk_sampling_default();
    uint32_t max_tokens = 0;
    std::vector<std::string> stop;
    bool ignore_eos = false;
};

// How a generation ended, in OpenAI's words where it has them.
enum class Finish { Stop, Length, Cancelled, Error };

struct Outcome {
    Finish finish = Finish::Stop;
    uint32_t prompt_tokens = 0;  // the whole prompt as the session holds it
    uint32_t cached_tokens = 0;  // of which the slot's cache already had
    uint32_t completion_tokens = 0;
    double generate_seconds = 0;
    std::string error;  // with Finish::Error
};

// The scheduler pushes text pieces and one final outcome; the HTTP side takes them. A consumer
// that loses its client calls cancel(), which the scheduler sees before its next step.
class Channel {
  public:
    void push_text(std::string text) {
        std::lock_guard lock(mutex_);
        texts_.push_back(std::move(text));
        ready_.notify_all();
    }
    void finish(Outcome outcome) {
        std::lock_guard lock(mutex_);
        outcome_ = std::move(outcome);
        ready_.notify_all();
    }
    // Waits up to `timeout` for something new: moves the pending texts into `texts` and gives
    // the outcome once every text before it has been taken.
    std::optional<Outcome> take(std::vector<std::string>& texts,
                                std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, timeout, [&] { return !texts_.empty() || outcome_.has_value(); });
        texts.assign(std::make_move_iterator(texts_.begin()),
                     std::make_move_iterator(texts_.end()));
        texts_.clear();
        return outcome_;
    }
    void cancel() { cancelled_ = true; }
    bool cancelled() const { return cancelled_; }

  private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::string> texts_;
    std::optional<Outcome> outcome_;
    std::atomic<bool> cancelled_{false};
};

struct Job {
    JobInput input;
    Channel channel;
};

}  // namespace moeserver
