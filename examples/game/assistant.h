// moe-vk inside the game: an engine on the window's own VkDevice and queue, the model loaded on
// a thread while the game keeps drawing, then one chat turn generated a slice at a time: one
// moevk_session_step per frame, with a GPU time budget, streaming the reply's text.
#pragma once

#include <moevk/moevk.hpp>
#include <moevk/moevk_vulkan.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>

#include "window.h"

struct AssistantOptions {
    std::string model_path;
    std::string prompt;
    uint32_t max_tokens = 96;
    uint32_t budget_us = 4000; // GPU time each frame may give to the engine
    uint64_t seed = 1;
    uint32_t max_batch = 0;    // prompt tokens per forward step; 0: the library's default
};

class Assistant {
public:
    enum class State { Loading, Ready, Generating, Done, Failed };

    // Starts loading at once, on a thread of its own.
    Assistant(Window& window, AssistantOptions options);
    // Cancels a load still running, stops a generation still running.
    ~Assistant();
    Assistant(const Assistant&) = delete;
    Assistant& operator=(const Assistant&) = delete;

    // Where it stands; the first call after the load has finished takes over its results.
    State state();
    float load_progress() const { return progress_.load(); }

    // Ready -> Generating: feeds the chat turn and starts the generation (runs nothing yet).
    void start();
    // Generating: one frame's slice. Returns what moevk_session_step reported.
    moevk_step_result step();

    const std::string& reply() const { return reply_; }
    const std::string& error() const { return error_; }
    const std::string& model_description() const { return description_; }
    uint32_t tokens() const { return tokens_; }
    const moevk_generation& generation() const { return generation_; } // after Done
    uint64_t engine_queue_locks() const { return window_.engine_queue_locks(); } // the engine's submits

private:
    void load(); // the loader thread

    Window& window_;
    AssistantOptions options_;
    std::thread loader_;
    std::atomic<bool> loaded_{false};  // the loader has finished, well or not
    std::atomic<bool> cancel_{false};  // the game is closing: the progress callback cancels
    std::atomic<float> progress_{0.0f};
    State state_ = State::Loading;

    // Declared in the order they are made: destroyed session first, engine last.
    std::optional<moevk::Engine> engine_;
    std::optional<moevk::Model> model_;
    std::optional<moevk::Session> session_;

    std::string reply_;
    std::string error_;
    std::string description_;
    uint32_t tokens_ = 0;
    moevk_generation generation_{};
};
