// What the public API's session is: a Session with the tokens its KV cache holds (the history),
// the input fed but not yet evaluated, a sampler, and one generation at a time, run either to
// the end (run) or a frame's budget at a time (start, then advance once per frame). Both go
// through the same StepRunner and the same sampling, so they give the same tokens.
//
// A sampled token is fed (it joins the pending input) and streamed; the next forward step
// evaluates it. A generation that ends leaves its last token pending, so a conversation that
// goes on evaluates it first, and one that does not saves the step.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/sampler.h"
#include "runtime/session.h"
#include "runtime/step_runner.h"
#include "text/chat_template.h"
#include "text/detokenizer.h"
#include "text/stop_matcher.h"
#include "text/tokenizer.h"

namespace moevk::runtime {

enum class GenerationEnd { None, EndOfGeneration, StopString, Length, ContextFull, Stopped, Error };
const char* generation_end_name(GenerationEnd end);

struct GenerateOptions {
    uint32_t max_tokens = 256;  // 0: evaluate the pending input only
    std::vector<std::string> stop_strings;  // besides those of the chat template last fed
    bool ignore_eog = false;
    // Each token and the text it completes (whole UTF-8; "" while text is held back); at the
    // end, text still held back comes with no token. Return false to stop.
    std::function<bool(std::optional<uint32_t>, std::string_view)> on_token;
};

struct GenerationResult {
    GenerationEnd end = GenerationEnd::None;
    uint32_t prompt_tokens = 0;     // input evaluated
    uint32_t generated_tokens = 0;  // sampled and streamed (an ending EOG not counted)
    double prompt_seconds = 0;
    double generate_seconds = 0;
};

// What one call of the frame loop did.
struct AdvanceReport {
    bool done = false;       // the generation ended (result().end says why)
    bool in_flight = false;  // GPU work is running
    uint32_t new_tokens = 0;
    uint32_t pieces = 0;
    double estimated_us = 0;
};

// Totals since the generator began or reset_stats().
struct GeneratorStats {
    uint64_t prompt_tokens = 0;
    double prompt_seconds = 0;
    uint64_t generated_tokens = 0;
    double generate_seconds = 0;
    std::vector<uint64_t> expert_tokens;  // [layers][experts], with record_experts
};

class Generator {
public:
    // The session, tokenizer and context outlive the generator. Without a tokenizer (a model
    // whose vocabulary cannot be read) nothing ends a generation but its length, and tokens
    // come with no text.
    Generator(gpu::Context& ctx, Session& session, const text::Tokenizer* tokenizer, const SamplingParams& sampling);
    ~Generator();
    Generator(const Generator&) = delete;
    Generator& operator=(const Generator&) = delete;

    // Input, checked now (ids in the vocabulary; Error(ContextFull) when history + pending
    // would not fit).
    void feed(std::span<const uint32_t> tokens);
    // The conversation through the template: the history is cut back to its longest common
    // prefix with the rendering and the rest becomes the pending input; the template's stop
    // strings apply to the next generations, whose replies start a new text.
    void feed_chat(std::span<const text::ChatMessage> messages, const text::ChatTemplate& chat_template,
                   text::ChatOptions options);
    // Evaluates the pending input and `tokens` now; with `all_logits`, returns the logits
    // [tokens.size()][n_vocab] of `tokens`.
    std::vector<float> eval(std::span<const uint32_t> tokens, bool all_logits);
    // The last evaluated position's logits; Error(InvalidArgument) when there are none.
    std::span<const float> logits() const;
    uint32_t sample();
    void set_sampling(const SamplingParams& sampling);
    const SamplingParams& sampling() const { return sampler_.params(); }

    void reset();
    void truncate(uint32_t n_keep);
    const std::vector<uint32_t>& history() const { return history_; }
    const std::vector<uint32_t>& pending() const { return pending_; }

    // A generation: start() then advance() until done, or run() for the whole of it.
    // Error(InvalidArgument) when there is nothing to generate from (no input and no logits).
    void start(GenerateOptions options);
    bool running() const { return job_ != nullptr; }
    // One frame's worth: collects work that completed, then submits at most `budget_us` of
    // GPU work and returns without waiting for it (kUnbounded and `block`: the whole
    // generation, waiting; with `one_step` too, one forward step and the sampling after it).
    AdvanceReport advance(double budget_us, bool block = false, bool one_step = false);

    // A generation's next step carried by a BatchStep with other sessions' (continuous
    // batching, runtime/batched_generation.h): batch_ready() when the step is one generated
    // token and nothing is in flight; begin_batched_step() takes that token for the batch;
    // after the batch ran, finish_batched_step() samples and streams as advance() would, or,
    // when it failed, fail_batched_step() puts the token back and ends the generation.
    bool batch_ready() const { return job_ && !runner_.active() && pending_.size() == 1; }
    uint32_t begin_batched_step();
    AdvanceReport finish_batched_step();
    void fail_batched_step();
    Session& session() const { return session_; }
    GenerationResult run(GenerateOptions options);
    // Ends a started generation now (waiting for the slice in flight); tokens so far stay.
    void stop();
    const GenerationResult& last_result() const { return last_; }

    const GeneratorStats& stats() const { return stats_; }
    void reset_stats();

private:
    struct Job;
    void require_idle(const char* what) const;
    void check_room(size_t more) const;
    // The step finished: its tokens join the history; the prompt is done when nothing is pending.
    void on_step_finished();
    // With logits of the last position and nothing pending: sample, stream, decide whether to go on.
    void next_token(AdvanceReport& report);
    void finish(GenerationEnd end);
    void begin_next_step();
    void count_experts();

    gpu::Context& ctx_;
    Session& session_;
    const text::Tokenizer* tokenizer_;
    Sampler sampler_;
    StepRunner runner_;
    std::vector<uint32_t> history_;
    std::vector<uint32_t> pending_;
    std::vector<uint32_t> step_tokens_;  // the step the runner has begun
    bool have_logits_ = false;
    // From the chat template last fed: its stop strings, and that replies start a new text.
    std::vector<std::string> chat_stops_;
    bool reply_starts_text_ = false;
    std::unique_ptr<Job> job_;
    GenerationResult last_;
    GeneratorStats stats_;
};

}  // namespace moevk::runtime
