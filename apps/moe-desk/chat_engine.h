// moe-vk inside moe-desk: one engine on the window's own VkDevice and queue (the renderer and
// the engine share them through the queue lock), the model loaded on a thread while the window
// keeps drawing, and one session that answers a conversation a slice at a time: one
// moevk_session_step per frame within a GPU time budget, so no frame waits for a whole forward
// step. It also keeps what the window shows of the engine: the reply as it streams, the experts
// each layer routed the reply's tokens to, the speeds and the paging figures.
#pragma once

#include <moevk/moevk.hpp>
#include <moevk/moevk_vulkan.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store.h"
#include "window.h"

class ChatEngine {
public:
    enum class State { NoModel, Loading, Ready, Generating };

    explicit ChatEngine(Window& window) : window_(window) {}
    // Cancels a load still running and stops a generation still running.
    ~ChatEngine();
    ChatEngine(const ChatEngine&) = delete;
    ChatEngine& operator=(const ChatEngine&) = delete;

    // Starts loading `path` on a thread, dropping the model open now (a generation running is
    // stopped first). The VRAM budget and cache policy come from `settings`, and so does the
    // session made once it has loaded.
    void open(const std::string& path, const Settings& settings);
    void cancel_load() { cancel_ = true; }
    // Where it stands; the first call after a load has finished takes over its results.
    State state();
    State state_now() const { return state_; } // as of the last state()
    float load_progress() const { return progress_.load(); }

    // Takes new settings: sampling at once; context or prompt batch make a new session; a
    // budget or policy reloads the model. Returns whether the model is reloading.
    bool apply(const Settings& settings);

    // Ready -> Generating: feeds the conversation (the cache keeps its common prefix with what
    // was fed before) and starts the reply; false with error() set when it cannot.
    bool start(const Conversation& conversation, uint32_t max_tokens);
    // Generating: one frame's slice of about `budget_us` of GPU work.
    void step(uint32_t budget_us);
    // Ends the reply now; the text so far stays.
    void stop();

    // The last thing that went wrong, in words, or "".
    const std::string& error() const { return error_; }
    void clear_error() { error_.clear(); }

    const std::string& model_path() const { return path_; }
    const std::string& device_name() const { return device_name_; }
    bool has_model() const { return session_.has_value(); }
    const moevk_model_info& model_info() const { return info_; }
    moevk_session_info session_info() const;
    moevk_session_stats session_stats() const;
    std::vector<int32_t> history() const; // the tokens in the KV cache

    // The reply being written, or the last one.
    const std::string& reply() const { return reply_; }
    uint32_t reply_tokens() const { return reply_tokens_; }
    const moevk_generation& generation() const { return generation_; } // once the reply ended
    const moevk_step_result& last_step() const { return last_step_; }
    double reply_seconds() const; // since the reply started (its prompt included)

    // (token, k) pairs routed to each expert while the current or last reply ran (its prompt
    // and its tokens): [layer * n_experts + expert].
    const std::vector<uint64_t>& expert_heat() const { return heat_; }
    // The first cache position the heat covers: the conversation's tokens before it were in the
    // cache already, so the reply did not route them again.
    uint32_t heat_from() const { return heat_from_; }

private:
    void load(std::string path, Settings settings); // the loader thread
    void make_session(const Settings& settings);
    void drop_model();
    void fail(const std::string& what, const std::exception& e, const std::string& path = "");

    Window& window_;
    std::thread loader_;
    std::atomic<bool> loaded_{false};
    std::atomic<bool> cancel_{false};
    std::atomic<float> progress_{0.0f};
    State state_ = State::NoModel;

    Settings settings_; // those the model and session were made with
    std::string path_;       // the model open (or loading)
    std::string tried_path_; // the last one opened, also when it failed
    std::string device_name_;
    moevk_model_info info_{};

    // Declared in the order they are made: session destroyed first, engine last.
    std::optional<moevk::Engine> engine_;
    std::optional<moevk::Model> model_;
    std::optional<moevk::Session> session_;

    std::string error_;
    std::string reply_;
    uint32_t reply_tokens_ = 0;
    double reply_started_ = 0, reply_ended_ = 0;
    moevk_generation generation_{};
    moevk_step_result last_step_{};
    std::vector<uint64_t> counts_at_start_;
    std::vector<uint64_t> heat_;
    uint32_t heat_from_ = 0;
};
