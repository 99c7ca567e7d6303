#include "assistant.h"

#include <utility>

Assistant::Assistant(Window& window, AssistantOptions options) : window_(window), options_(std::move(options)) {
    loader_ = std::thread([this] { load(); });
}

Assistant::~Assistant() {
    cancel_ = true;
    if (loader_.joinable()) loader_.join();
    if (state_ == State::Generating) {
        try {
            session_->stop(); // waits for the engine's work in flight (at most one piece)
        } catch (const std::exception&) {
        }
    }
}

// On the loader thread: the engine on the window's device, the model, the session. The game keeps
// drawing meanwhile, which is why the queue needs the lock callbacks. moevk_last_error() is per
// thread, so the error text is taken here (moevk::Exception carries it).
void Assistant::load() {
    try {
        // The engine takes the renderer's queue mutex around each of its submits, so the two
        // never use the queue at once (Vulkan requires that of a VkQueue).
        moevk_host_device host = window_.engine_host();
        moevk_engine* engine = nullptr;
        moevk::check(moevk_engine_create_on_device(&host, &engine));
        engine_.emplace(engine); // the C++ wrapper takes ownership

        model_.emplace(*engine_, options_.model_path, moevk_model_options_default(), [this](float fraction) {
            progress_ = fraction;
            return !cancel_.load(); // false cancels the load
        });
        description_ = model_->info().description;

        moevk_session_options session = moevk_session_options_default();
        session.n_ctx = 1024;
        session.sampling.seed = options_.seed;
        if (options_.max_batch) session.max_batch = options_.max_batch;
        session_.emplace(*model_, session);
    } catch (const std::exception& e) {
        error_ = e.what();
    }
    loaded_ = true;
}

Assistant::State Assistant::state() {
    if (state_ == State::Loading && loaded_.load()) {
        loader_.join(); // what the thread wrote is ours to read from here on
        state_ = error_.empty() ? State::Ready : State::Failed;
    }
    return state_;
}

void Assistant::start() {
    try {
        session_->feed_chat({{MOEVK_ROLE_SYSTEM, "You are a helpful assistant in a game."},
                             {MOEVK_ROLE_USER, options_.prompt}});
        moevk::Generate generate;
        generate.max_tokens = options_.max_tokens;
        // Runs inside step(), on this thread: the text appears in the frame that produced it.
        // Token -1 is no token: the text held back at the end (a stop string that was not one).
        generate.on_token = [this](int32_t token, std::string_view text) {
            reply_ += text;
            if (token >= 0) ++tokens_;
            return true;
        };
        session_->start(generate);
        state_ = State::Generating;
    } catch (const std::exception& e) {
        error_ = e.what();
        state_ = State::Failed;
    }
}

moevk_step_result Assistant::step() {
    moevk_step_result result{};
    try {
        // Submits about budget_us of GPU work (cut between layers) and returns without waiting
        // for it; the next call collects what finished and streams any token it completed.
        result = session_->step(options_.budget_us);
        if (result.done) {
            generation_ = session_->last_generation();
            state_ = State::Done;
        }
    } catch (const std::exception& e) {
        error_ = e.what();
        state_ = State::Failed;
    }
    return result;
}
