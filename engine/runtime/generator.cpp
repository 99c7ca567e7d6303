#include "runtime/generator.h"

#include <algorithm>

#include "gpu/error.h"

namespace moevk::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

const char* generation_end_name(GenerationEnd end) {
    switch (end) {
        case GenerationEnd::None: return "running";
        case GenerationEnd::EndOfGeneration: return "end of turn";
        case GenerationEnd::StopString: return "stop string";
        case GenerationEnd::Length: return "length limit";
        case GenerationEnd::ContextFull: return "context full";
        case GenerationEnd::Stopped: return "stopped";
        case GenerationEnd::Error: return "error";
    }
    return "?";
}

struct Generator::Job {
    Job(GenerateOptions o, std::vector<std::string> stop_strings, const text::Tokenizer* tok, bool starts_text)
        : options(std::move(o)), stops(std::move(stop_strings)) {
        if (tok) detok.emplace(*tok, false, starts_text);
    }
    // The text a token completes ("" without a vocabulary).
    std::string push(uint32_t token) { return detok ? detok->push(token) : std::string(); }
    std::string flush() { return detok ? detok->flush() : std::string(); }

    GenerateOptions options;
    text::StopMatcher stops;
    std::optional<text::Detokenizer> detok;
    GenerationResult result;
    bool prompt_phase = true;
    Clock::time_point started = Clock::now();
    Clock::time_point prompt_done;
};

Generator::Generator(gpu::Context& ctx, Session& session, const text::Tokenizer* tokenizer,
                     const SamplingParams& sampling)
    : ctx_(ctx), session_(session), tokenizer_(tokenizer), sampler_(sampling), runner_(ctx, session) {}

Generator::~Generator() = default;

void Generator::require_idle(const char* what) const {
    if (job_)
        throw Error(ErrorCode::Busy,
                    std::string("session: ") + what + " while a started generation runs (step it to the end or stop it)");
}

void Generator::check_room(size_t more) const {
    size_t needed = history_.size() + pending_.size() + more;
    if (needed > session_.n_ctx())
        throw Error(ErrorCode::ContextFull, "context full: " + std::to_string(history_.size()) + " tokens cached, " +
                                                std::to_string(pending_.size()) + " pending and " + std::to_string(more) +
                                                " more exceed the context of " + std::to_string(session_.n_ctx()));
}

void Generator::feed(std::span<const uint32_t> tokens) {
    require_idle("feeding input");
    const uint32_t n_vocab = session_.model().config().n_vocab;
    for (uint32_t t : tokens)
        if (t >= n_vocab)
            throw Error(ErrorCode::InvalidArgument, "token id " + std::to_string(t) +
                                                        " is outside the vocabulary of " + std::to_string(n_vocab));
    check_room(tokens.size());
    pending_.insert(pending_.end(), tokens.begin(), tokens.end());
}

void Generator::feed_chat(std::span<const text::ChatMessage> messages, const text::ChatTemplate& chat_template,
                          text::ChatOptions options) {
    require_idle("feeding a conversation");
    if (!tokenizer_) throw Error(ErrorCode::InvalidArgument, "session: a conversation needs the model's vocabulary");
    const text::Tokenizer& tokenizer = *tokenizer_;
    options.bos_token = tokenizer.special_text(tokenizer.bos());
    options.eos_token = tokenizer.special_text(tokenizer.eos());
    // The template writes BOS as text where it wants one; special tokens in it are parsed.
    bool add_bos = tokenizer.add_bos() && !chat_template.writes_bos();
    std::vector<uint32_t> prompt = tokenizer.encode(chat_template.render(messages, options), add_bos, true);
    if (prompt.empty()) throw Error(ErrorCode::InvalidArgument, "session: the conversation renders to no tokens");
    if (prompt.size() >= session_.n_ctx())
        throw Error(ErrorCode::ContextFull, "context full: the conversation needs " + std::to_string(prompt.size()) +
                                                " tokens of " + std::to_string(session_.n_ctx()));
    // The longest prefix the cache (or the input already pending) holds.
    size_t same = 0;
    auto known = [&](size_t i) { return i < history_.size() ? history_[i] : pending_[i - history_.size()]; };
    while (same < prompt.size() && same < history_.size() + pending_.size() && prompt[same] == known(same)) ++same;
    if (same == prompt.size()) --same;  // at least one token must run to give logits
    if (same < history_.size()) {
        history_.resize(same);
        session_.truncate(static_cast<uint32_t>(same));
        have_logits_ = false;
    }
    pending_.assign(prompt.begin() + static_cast<std::ptrdiff_t>(history_.size()), prompt.end());
    chat_stops_ = chat_template.stop_strings(options.eos_token);
    reply_starts_text_ = true;
}

std::vector<float> Generator::eval(std::span<const uint32_t> tokens, bool all_logits) {
    require_idle("eval");
    feed(tokens);  // checks the ids and the room
    std::vector<uint32_t> input;
    input.swap(pending_);
    if (input.empty()) throw Error(ErrorCode::InvalidArgument, "session: nothing to evaluate");
    auto t0 = Clock::now();
    std::vector<float> logits;
    try {
        logits = session_.eval(input, all_logits);
    } catch (...) {
        input.resize(input.size() - tokens.size());  // the pending input stays pending
        pending_.swap(input);
        throw;
    }
    stats_.prompt_tokens += input.size();
    stats_.prompt_seconds += seconds_between(t0, Clock::now());
    history_.insert(history_.end(), input.begin(), input.end());
    have_logits_ = true;
    count_experts();
    if (!all_logits) return {};
    const size_t n_vocab = session_.model().config().n_vocab;
    logits.erase(logits.begin(), logits.end() - static_cast<std::ptrdiff_t>(tokens.size() * n_vocab));
    return logits;
}

std::span<const float> Generator::logits() const {
    if (!have_logits_)
        throw Error(ErrorCode::InvalidArgument, "session: no logits yet (evaluate something first)");
    return session_.last_logits();
}

uint32_t Generator::sample() {
    require_idle("sampling");
    return sampler_.sample(logits(), history_);
}

void Generator::set_sampling(const SamplingParams& sampling) {
    require_idle("changing the sampling");
    sampler_ = Sampler(sampling);
}

void Generator::reset() {
    require_idle("reset");
    history_.clear();
    pending_.clear();
    session_.reset();
    have_logits_ = false;
    chat_stops_.clear();
    reply_starts_text_ = false;
    sampler_.reseed(sampler_.params().seed);
}

void Generator::truncate(uint32_t n_keep) {
    require_idle("truncate");
    pending_.clear();
    if (n_keep >= history_.size()) return;
    history_.resize(n_keep);
    session_.truncate(n_keep);
    have_logits_ = false;
}

void Generator::start(GenerateOptions options) {
    require_idle("starting a generation");
    if (pending_.empty() && !have_logits_) {
        if (history_.empty())
            throw Error(ErrorCode::InvalidArgument, "session: nothing to generate from: feed tokens or a conversation first");
        // The logits were dropped (truncate): evaluate the last kept token again.
        pending_.push_back(history_.back());
        history_.pop_back();
        session_.truncate(static_cast<uint32_t>(history_.size()));
    }
    std::vector<std::string> stops = chat_stops_;
    stops.insert(stops.end(), options.stop_strings.begin(), options.stop_strings.end());
    auto job = std::make_unique<Job>(std::move(options), std::move(stops), tokenizer_, reply_starts_text_);
    job->result.prompt_tokens = static_cast<uint32_t>(pending_.size());
    job_ = std::move(job);
}

GenerationResult Generator::run(GenerateOptions options) {
    start(std::move(options));
    while (!advance(kUnbounded, true).done) {
    }
    return last_;
}

AdvanceReport Generator::advance(double budget_us, bool block, bool one_step) {
    if (!job_) throw Error(ErrorCode::InvalidArgument, "session: no generation started");
    AdvanceReport report;
    bool stepped = false;
    try {
        for (;;) {
            if (runner_.in_flight()) {
                if (block) {
                    runner_.wait();
                } else if (!runner_.poll()) {
                    report.in_flight = true;
                    return report;
                }
            }
            if (runner_.finished() && !step_tokens_.empty()) {
                on_step_finished();
                stepped = true;
            }
            if (!runner_.active()) {
                if (pending_.empty()) {
                    next_token(report);
                    if (!job_) {
                        report.done = true;
                        return report;
                    }
                    if (one_step && stepped) return report;
                    continue;
                }
                if (one_step && stepped) return report;  // a prompt step, more of it pending
                begin_next_step();
            }
            PieceCosts::Plan plan = runner_.submit(block ? kUnbounded : budget_us);
            report.pieces += plan.pieces;
            report.estimated_us += plan.estimated_us;
            if (!block) {
                report.in_flight = runner_.in_flight();
                return report;
            }
        }
    } catch (...) {
        runner_.abandon();
        // The step did not happen: its tokens are input again.
        pending_.insert(pending_.begin(), step_tokens_.begin(), step_tokens_.end());
        step_tokens_.clear();
        if (job_) finish(GenerationEnd::Error);
        throw;
    }
}

uint32_t Generator::begin_batched_step() {
    if (!batch_ready())
        throw Error(ErrorCode::InvalidArgument, "session: the next step is not one generated token");
    step_tokens_ = pending_;
    pending_.clear();
    return step_tokens_[0];
}

AdvanceReport Generator::finish_batched_step() {
    AdvanceReport report;
    on_step_finished();
    try {
        next_token(report);
    } catch (...) {
        if (job_) finish(GenerationEnd::Error);
        throw;
    }
    report.done = !job_;
    return report;
}

void Generator::fail_batched_step() {
    pending_.insert(pending_.begin(), step_tokens_.begin(), step_tokens_.end());
    step_tokens_.clear();
    if (job_) finish(GenerationEnd::Error);
}

void Generator::begin_next_step() {
    size_t n = std::min<size_t>(pending_.size(), session_.options().max_batch);
    step_tokens_.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    runner_.begin(step_tokens_);
}

void Generator::on_step_finished() {
    history_.insert(history_.end(), step_tokens_.begin(), step_tokens_.end());
    if (job_ && job_->prompt_phase) stats_.prompt_tokens += step_tokens_.size();
    step_tokens_.clear();
    have_logits_ = true;
    count_experts();
}

void Generator::next_token(AdvanceReport& report) {
    Job& job = *job_;
    if (job.prompt_phase) {
        job.prompt_phase = false;
        job.prompt_done = Clock::now();
        job.result.prompt_seconds = seconds_between(job.started, job.prompt_done);
        stats_.prompt_seconds += job.result.prompt_seconds;
    }
    if (job.result.generated_tokens >= job.options.max_tokens) return finish(GenerationEnd::Length);
    if (session_.position() >= session_.n_ctx()) return finish(GenerationEnd::ContextFull);
    uint32_t token = sampler_.sample(logits(), history_);
    if (!job.options.ignore_eog && tokenizer_ && tokenizer_->is_eog(token))
        return finish(GenerationEnd::EndOfGeneration);
    ++job.result.generated_tokens;
    ++report.new_tokens;
    pending_.push_back(token);
    text::StopMatcher::Step step = job.stops.feed(job.push(token));
    bool go_on = !job.options.on_token || job.options.on_token(token, step.text);
    if (step.stopped) return finish(GenerationEnd::StopString);
    if (!go_on) return finish(GenerationEnd::Stopped);
    if (job.result.generated_tokens >= job.options.max_tokens) return finish(GenerationEnd::Length);
}

void Generator::finish(GenerationEnd end) {
    std::unique_ptr<Job> job = std::move(job_);
    job->result.end = end;
    auto now = Clock::now();
    if (job->prompt_phase) {
        job->result.prompt_seconds = seconds_between(job->started, now);
    } else {
        job->result.generate_seconds = seconds_between(job->prompt_done, now);
        stats_.generated_tokens += job->result.generated_tokens;
        stats_.generate_seconds += job->result.generate_seconds;
    }
    last_ = job->result;
    bool natural = end == GenerationEnd::EndOfGeneration || end == GenerationEnd::Length ||
                   end == GenerationEnd::ContextFull;
    if (natural && job->options.on_token) {
        // What the detokenizer and the stop matcher held back.
        text::StopMatcher::Step tail = job->stops.feed(job->flush());
        std::string rest = tail.text + (tail.stopped ? std::string() : job->stops.flush());
        if (!rest.empty()) job->options.on_token(std::nullopt, rest);
    }
}

void Generator::stop() {
    if (!job_) return;
    runner_.abandon();
    pending_.insert(pending_.begin(), step_tokens_.begin(), step_tokens_.end());
    step_tokens_.clear();
    finish(GenerationEnd::Stopped);
}

void Generator::count_experts() {
    const auto& selected = session_.selected_experts();
    if (selected.empty()) return;
    const uint32_t E = session_.model().config().moe.n_experts;
    stats_.expert_tokens.resize(size_t(selected.size()) * E, 0);
    for (size_t l = 0; l < selected.size(); ++l)
        for (uint32_t e : selected[l])
            if (e < E) ++stats_.expert_tokens[l * E + e];
}

void Generator::reset_stats() {
    stats_ = GeneratorStats{};
    session_.reset_paging_stats();
}

}  // namespace moevk::runtime
