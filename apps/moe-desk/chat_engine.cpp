#include "chat_engine.h"

#include <GLFW/glfw3.h>

#include <random>
#include <utility>

namespace {

moevk_sampling sampling_of(const Settings& s) {
    moevk_sampling p = moevk_sampling_default();
    p.temperature = s.temperature;
    p.top_k = s.top_k;
    p.top_p = s.top_p;
    p.min_p = s.min_p;
    p.repeat_penalty = s.repeat_penalty;
    p.frequency_penalty = s.frequency_penalty;
    p.presence_penalty = s.presence_penalty;
    p.seed = s.seed ? s.seed : std::random_device{}(); // 0: a new reply each run
    return p;
}

bool same_sampling(const Settings& a, const Settings& b) {
    return a.temperature == b.temperature && a.top_k == b.top_k && a.top_p == b.top_p && a.min_p == b.min_p &&
           a.repeat_penalty == b.repeat_penalty && a.frequency_penalty == b.frequency_penalty &&
           a.presence_penalty == b.presence_penalty && a.seed == b.seed;
}

std::vector<moevk::Message> messages_of(const Conversation& c) {
    std::vector<moevk::Message> out;
    if (!c.system.empty()) out.push_back({MOEVK_ROLE_SYSTEM, c.system});
    for (const ChatMessage& m : c.messages)
        out.push_back({m.role == ChatMessage::Role::User ? MOEVK_ROLE_USER : MOEVK_ROLE_ASSISTANT, m.text});
    return out;
}

}  // namespace

ChatEngine::~ChatEngine() {
    cancel_ = true;
    if (loader_.joinable()) loader_.join();
    if (state_ == State::Generating) {
        try {
            session_->stop(); // waits for the engine's work in flight (at most one piece)
        } catch (const std::exception&) {
        }
    }
}

// The engine's message in plain words: a sentence for the kind of failure first, then the
// engine's own text (which names the file, tensor or value) without its status name, and
// without the file's path when `what` already says it.
void ChatEngine::fail(const std::string& what, const std::exception& e, const std::string& path) {
    std::string detail = e.what();
    std::string lead;
    if (const auto* m = dynamic_cast<const moevk::Exception*>(&e)) {
        const std::string prefix = std::string(moevk_status_name(m->status())) + ": ";
        if (detail.starts_with(prefix)) detail.erase(0, prefix.size());
        switch (m->status()) {
            case MOEVK_ERROR_BAD_FILE: lead = "It is not a model file moe-vk can read, or it is damaged. "; break;
            case MOEVK_ERROR_UNSUPPORTED: lead = "It asks for something moe-vk does not do yet. "; break;
            case MOEVK_ERROR_OUT_OF_MEMORY: lead = "The device ran out of memory (a VRAM budget may help). "; break;
            case MOEVK_ERROR_NO_DEVICE: lead = "No usable Vulkan device. "; break;
            case MOEVK_ERROR_VULKAN:
                if (detail.find("DEVICE_LOST") != std::string::npos) lead = "The GPU stopped responding (device lost). ";
                break;
            default: break;
        }
    }
    if (!path.empty() && detail.starts_with(path + ": ")) detail.erase(0, path.size() + 2);
    error_ = what + ". " + lead + "(" + detail + ")";
}

void ChatEngine::drop_model() {
    if (state_ == State::Generating) stop();
    session_.reset();
    model_.reset();
    info_ = moevk_model_info{};
    path_.clear();
    state_ = State::NoModel;
}

void ChatEngine::open(const std::string& path, const Settings& settings) {
    if (state_ == State::Loading) return; // one load at a time: cancel it first
    drop_model();
    error_.clear();
    reply_.clear();
    heat_.clear();
    settings_ = settings;
    path_ = path;
    tried_path_ = path;
    cancel_ = false;
    loaded_ = false;
    progress_ = 0.0f;
    state_ = State::Loading;
    loader_ = std::thread([this, path, settings] { load(path, settings); });
}

// On the loader thread, while the window keeps drawing (which is why the queue has the lock
// callbacks). moevk_last_error() is per thread, so the text is taken here (moevk::Exception
// carries it). The engine is made once, on the window's device, and kept across models.
void ChatEngine::load(std::string path, Settings settings) {
    try {
        if (!engine_) {
            moevk_host_device host = window_.engine_host(); // its queue shared under the window's lock
            moevk_engine* engine = nullptr;
            moevk::check(moevk_engine_create_on_device(&host, &engine));
            engine_.emplace(engine); // the C++ wrapper owns it from here
            device_name_ = engine_->device_info().name;
        }
        moevk_model_options options = moevk_model_options_default();
        options.vram_budget = settings.vram_budget.c_str();
        options.cache_policy = settings.cache_policy == "lfu" ? MOEVK_CACHE_LFU : MOEVK_CACHE_LRU;
        model_.emplace(*engine_, path, options, [this](float fraction) {
            progress_ = fraction;
            return !cancel_.load(); // false cancels the load
        });
        info_ = model_->info();
        if (!moevk_model_get_tokenizer(model_->get()))
            throw std::runtime_error(std::string("the model has no usable vocabulary: ") + info_.vocab_error);
        make_session(settings);
    } catch (const std::exception& e) {
        session_.reset();
        model_.reset();
        if (cancel_.load()) error_ = "Loading " + path + " was cancelled.";
        else fail("Could not open " + path, e, path);
    }
    loaded_ = true;
}

void ChatEngine::make_session(const Settings& settings) {
    session_.reset();
    moevk_session_options options = moevk_session_options_default();
    options.n_ctx = settings.n_ctx;
    // 0: one token a step on a CPU device, where a layer over a batch takes longer than a frame
    // (so the budget could not cut it), and batches of 32 where the device is a GPU.
    options.max_batch = settings.max_batch ? settings.max_batch
                                           : engine_->device_info().kind == MOEVK_DEVICE_CPU ? 1u : 32u;
    options.sampling = sampling_of(settings);
    options.record_experts = 1; // the heatmap
    session_.emplace(*model_, options);
    settings_ = settings;
}

ChatEngine::State ChatEngine::state() {
    if (state_ == State::Loading && loaded_.load()) {
        loader_.join(); // what the thread wrote is ours to read from here on
        state_ = session_ ? State::Ready : State::NoModel;
        if (!session_) path_.clear();
    }
    return state_;
}

bool ChatEngine::apply(const Settings& settings) {
    if (state_ == State::Loading) return false;
    const Settings old = settings_;
    settings_.max_tokens = settings.max_tokens;
    settings_.budget_us = settings.budget_us;
    settings_.recent_models = settings.recent_models;
    const bool reload = settings.vram_budget != old.vram_budget || settings.cache_policy != old.cache_policy;
    if (reload && !tried_path_.empty()) {
        // Also when the last load failed: a budget too small is fixed by changing it.
        const std::string path = tried_path_;
        open(path, settings);
        return true;
    }
    if (!model_) {
        settings_ = settings;
        return false;
    }
    try {
        if (state_ == State::Generating) stop();
        if (settings.n_ctx != old.n_ctx || settings.max_batch != old.max_batch) {
            make_session(settings);
        } else if (!same_sampling(settings, old)) {
            session_->set_sampling(sampling_of(settings));
            settings_ = settings;
        }
    } catch (const std::exception& e) {
        fail("The settings could not be applied", e);
    }
    return false;
}

bool ChatEngine::start(const Conversation& conversation, uint32_t max_tokens) {
    if (state() != State::Ready) return false;
    error_.clear();
    reply_.clear();
    reply_tokens_ = 0;
    generation_ = moevk_generation{};
    last_step_ = moevk_step_result{};
    try {
        session_->feed_chat(messages_of(conversation));
        moevk::Generate generate;
        generate.max_tokens = max_tokens;
        // Runs inside step(), on this thread: the text appears in the frame that produced it.
        // Token -1 is no token: the text held back at the end (a stop string that was not one).
        generate.on_token = [this](int32_t token, std::string_view text) {
            reply_ += text;
            if (token >= 0) ++reply_tokens_;
            return true;
        };
        heat_from_ = session_->info().position; // the common prefix feed_chat kept
        counts_at_start_ = session_->expert_counts(info_.n_layers, info_.n_experts);
        heat_.assign(counts_at_start_.size(), 0);
        session_->start(generate);
    } catch (const std::exception& e) {
        fail("The reply could not start", e);
        return false;
    }
    reply_started_ = glfwGetTime();
    reply_ended_ = 0;
    state_ = State::Generating;
    return true;
}

void ChatEngine::step(uint32_t budget_us) {
    if (state_ != State::Generating) return;
    try {
        // Submits about budget_us of GPU work (cut between layers) and returns without waiting
        // for it; the next call collects what finished and streams any token it completed.
        last_step_ = session_->step(budget_us);
        const std::vector<uint64_t> counts = session_->expert_counts(info_.n_layers, info_.n_experts);
        for (size_t i = 0; i < counts.size() && i < heat_.size(); ++i) heat_[i] = counts[i] - counts_at_start_[i];
        if (last_step_.done) {
            generation_ = session_->last_generation();
            reply_ended_ = glfwGetTime();
            state_ = State::Ready;
        }
    } catch (const std::exception& e) {
        fail("The reply failed", e);
        try {
            session_->stop();
        } catch (const std::exception&) {
        }
        reply_ended_ = glfwGetTime();
        state_ = State::Ready;
    }
}

void ChatEngine::stop() {
    if (state_ != State::Generating) return;
    try {
        session_->stop();
        generation_ = session_->last_generation();
        const std::vector<uint64_t> counts = session_->expert_counts(info_.n_layers, info_.n_experts);
        for (size_t i = 0; i < counts.size() && i < heat_.size(); ++i) heat_[i] = counts[i] - counts_at_start_[i];
    } catch (const std::exception& e) {
        fail("Stopping the reply failed", e);
    }
    reply_ended_ = glfwGetTime();
    state_ = State::Ready;
}

double ChatEngine::reply_seconds() const {
    if (reply_started_ == 0) return 0;
    return (reply_ended_ ? reply_ended_ : glfwGetTime()) - reply_started_;
}

moevk_session_info ChatEngine::session_info() const { return session_ ? session_->info() : moevk_session_info{}; }
moevk_session_stats ChatEngine::session_stats() const { return session_ ? session_->stats() : moevk_session_stats{}; }
std::vector<int32_t> ChatEngine::history() const { return session_ ? session_->tokens() : std::vector<int32_t>{}; }
