#include "scheduler.h"

#include <algorithm>
#include <chrono>

namespace moeserver {

namespace {

// How often the expert counts are gathered for /metrics and the web page's chart.
constexpr auto kPublishEvery = std::chrono::milliseconds(200);

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

Finish finish_of(moevk_end_reason end) {
    switch (end) {
        case MOEVK_END_EOG:
        case MOEVK_END_STOP_STRING:
            return Finish::Stop;
        case MOEVK_END_LENGTH:
        case MOEVK_END_CONTEXT_FULL:
            return Finish::Length;
        case MOEVK_END_STOPPED:
            return Finish::Cancelled;
        default:
            return Finish::Error;
    }
}

}  // namespace

Scheduler::Scheduler(const moevk::Model& model, const moevk_session_options& options,
                     std::string template_name, uint32_t slots, uint32_t queue_limit,
                     Metrics& metrics)
    : metrics_(metrics), template_(std::move(template_name)), queue_limit_(queue_limit) {
    moevk_model_info info = model.info();
    n_layers_ = info.n_layers;
    n_experts_ = info.n_experts;
    moevk_session_options o = options;
    o.record_experts = 1;  // the expert counts behind /metrics and the chart
    for (uint32_t i = 0; i < slots; ++i) {
        Slot s;
        s.session = std::make_unique<moevk::Session>(model, o);
        slots_.push_back(std::move(s));
    }
    batch_ = std::make_unique<moevk::Batch>(model, slots);
    free_slots_ = slots_.size();
    publish_state();
    thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

bool Scheduler::submit(std::shared_ptr<Job> job) {
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= queue_limit_ + free_slots_) return false;
        queue_.push_back(std::move(job));
        metrics_.set_queue_depth(waiting());
    }
    wake_.notify_all();
    return true;
}

size_t Scheduler::waiting() const {
    return queue_.size() > free_slots_ ? queue_.size() - free_slots_ : 0;
}

void Scheduler::run() {
    auto published = std::chrono::steady_clock::now();
    for (;;) {
        {
            std::lock_guard lock(mutex_);
            if (stopping_) break;
        }
        admit();
        bool active = step_active();
        auto now = std::chrono::steady_clock::now();
        if (now - published >= kPublishEvery) {
            publish_state();
            published = now;
        }
        if (!active) {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        }
    }
    // Shutting down: whatever still runs or waits ends as an error its client can read.
    for (Slot& slot : slots_) {
        if (!slot.job) continue;
        try {
            slot.session->stop();
        } catch (const std::exception&) {
        }
        end(slot, Outcome{Finish::Error, 0, 0, 0, 0, "the server is shutting down"});
    }
    std::lock_guard lock(mutex_);
    for (auto& job : queue_)
        job->channel.finish(Outcome{Finish::Error, 0, 0, 0, 0, "the server is shutting down"});
    queue_.clear();
}

void Scheduler::admit() {
    for (;;) {
        std::shared_ptr<Job> job;
        Slot* slot = nullptr;
        {
            std::lock_guard lock(mutex_);
            if (queue_.empty()) return;
            if (queue_.front()->channel.cancelled()) {
                // Its client left while it waited: it never takes a slot.
                queue_.front()->channel.finish(Outcome{Finish::Cancelled});
                queue_.pop_front();
                metrics_.set_queue_depth(waiting());
                continue;
            }
            slot = choose_slot(*queue_.front());
            if (!slot) return;
            job = std::move(queue_.front());
            queue_.pop_front();
            --free_slots_;
            metrics_.set_queue_depth(waiting());
        }
        begin(*slot, std::move(job));
    }
}

// The free slot whose cached history shares the longest prefix with the job's prompt: a
// follow-up turn of a conversation lands where its earlier turns are cached and evaluates only
// what is new (feed_chat cuts the history back to the common prefix). Ties go to the least
// recently used slot, which keeps other conversations' caches alive longest.
Scheduler::Slot* Scheduler::choose_slot(const Job& job) {
    Slot* best = nullptr;
    size_t best_prefix = 0;
    for (Slot& slot : slots_) {
        if (slot.job) continue;
        size_t prefix = common_prefix(slot.session->tokens(), job.input.prompt_tokens);
        if (!best || prefix > best_prefix ||
            (prefix == best_prefix && slot.last_used < best->last_used)) {
            best = &slot;
            best_prefix = prefix;
        }
    }
    return best;
}

void Scheduler::begin(Slot& slot, std::shared_ptr<Job> job) {
    slot.job = std::move(job);
    slot.last_used = ++uses_;
    moevk::Session& session = *slot.session;
    const JobInput& in = slot.job->input;
    try {
        session.set_sampling(in.sampling);
        if (in.chat) {
            moevk_chat_options options = moevk_chat_options_default();
            if (!template_.empty()) options.template_name = template_.c_str();
            session.feed_chat(in.messages, options);
        } else {
            // feed_chat's prefix reuse, done by hand for a plain prompt: keep what the cache
            // shares with it and feed the rest (at least one token, to have logits).
            const std::vector<int32_t>& prompt = in.prompt_tokens;
            size_t keep = common_prefix(session.tokens(), prompt);
            if (keep == prompt.size()) --keep;
            session.truncate(static_cast<uint32_t>(keep));
            session.feed(std::span(prompt).subspan(keep));
        }
        moevk_session_info info = session.info();
        slot.cached_tokens = info.position;
        slot.prompt_tokens = info.position + info.pending;
        moevk::Generate g;
        g.max_tokens = in.max_tokens;
        g.stop_strings = in.stop;
        g.ignore_eog = in.ignore_eos;
        Job* j = slot.job.get();
        g.on_token = [this, j](int32_t token, std::string_view text) {
            if (token >= 0) metrics_.count_generated_token();
            if (!text.empty()) j->channel.push_text(std::string(text));
            return !j->channel.cancelled();
        };
        session.start(g);
    } catch (const std::exception& e) {
        end(slot, Outcome{Finish::Error, 0, 0, 0, 0, e.what()});
    }
}

bool Scheduler::step_active() {
    std::vector<Slot*> active;
    std::vector<moevk::Session*> sessions;
    for (Slot& slot : slots_) {
        if (!slot.job) continue;
        if (slot.job->channel.cancelled()) {
            // Its client left: the generation stops before the next step and frees the slot.
            try {
                slot.session->stop();
            } catch (const std::exception&) {
            }
            conclude(slot, moevk_step_result{sizeof(moevk_step_result), 1}, "");
            continue;
        }
        active.push_back(&slot);
        sessions.push_back(slot.session.get());
    }
    if (active.empty()) return false;
    std::string failure;
    std::vector<moevk_step_result> results;
    try {
        results = batch_->step(sessions, &failure);
    } catch (const std::exception& e) {
        // Refused as a whole (it should not be: the slots are distinct sessions of one model),
        // or a callback threw: every active slot ends with the error.
        for (Slot* slot : active) {
            try {
                slot->session->stop();
            } catch (const std::exception&) {
            }
            moevk_step_result failed{sizeof(moevk_step_result), 1};
            failed.end = MOEVK_END_ERROR;
            conclude(*slot, failed, e.what());
        }
        return true;
    }
    uint32_t tokens = 0;
    for (const moevk_step_result& r : results) tokens += r.new_tokens;
    metrics_.count_batch_step(tokens);
    for (size_t i = 0; i < active.size(); ++i) conclude(*active[i], results[i], failure);
    return true;
}

void Scheduler::conclude(Slot& slot, const moevk_step_result& result, const std::string& failure) {
    if (!result.done) return;
    moevk::Session& session = *slot.session;
    if (result.end == MOEVK_END_ERROR) {
        // A failed step leaves the session usable but its cache unknown: start it over.
        try {
            session.reset();
        } catch (const std::exception&) {
        }
        end(slot, Outcome{Finish::Error, slot.prompt_tokens, slot.cached_tokens, 0, 0,
                          failure.empty() ? "the forward step failed" : failure});
        return;
    }
    moevk_generation g = session.last_generation();
    Outcome o;
    o.finish = slot.job->channel.cancelled() ? Finish::Cancelled : finish_of(g.end);
    o.prompt_tokens = slot.prompt_tokens;
    o.cached_tokens = slot.cached_tokens;
    o.completion_tokens = g.generated_tokens;
    o.generate_seconds = g.generate_seconds;
    end(slot, o);
}

void Scheduler::end(Slot& slot, Outcome outcome) {
    if (outcome.finish != Finish::Error)
        metrics_.count_tokens(outcome.prompt_tokens - outcome.cached_tokens, outcome.cached_tokens,
                              outcome.completion_tokens, outcome.generate_seconds);
    slot.job->channel.finish(std::move(outcome));
    slot.job.reset();
    {
        std::lock_guard lock(mutex_);
        ++free_slots_;
        metrics_.set_queue_depth(waiting());
    }
    publish_state();
}

void Scheduler::publish_state() {
    uint32_t active = 0;
    std::vector<uint64_t> counts(size_t(n_layers_) * n_experts_, 0);
    for (const Slot& slot : slots_) {
        if (slot.job) ++active;
        try {
            std::vector<uint64_t> c = slot.session->expert_counts(n_layers_, n_experts_);
            for (size_t i = 0; i < counts.size() && i < c.size(); ++i) counts[i] += c[i];
        } catch (const std::exception&) {
            // No counts from this session now (it failed a step): the others still count.
        }
    }
    metrics_.set_slots(active, static_cast<uint32_t>(slots_.size()));
    metrics_.set_expert_counts(n_layers_, n_experts_, std::move(counts));
}

}  // namespace moeserver
