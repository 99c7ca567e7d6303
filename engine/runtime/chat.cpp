#include "runtime/chat.h"

#include <chrono>

#include "gpu/error.h"
#include "text/detokenizer.h"
#include "text/stop_matcher.h"

namespace moevk::runtime {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string token_or_empty(const text::Tokenizer& tok, std::optional<uint32_t> id) {
    return id ? tok.token_text(*id, true) : std::string();
}

}  // namespace

const char* end_name(TurnStats::End end) {
    switch (end) {
        case TurnStats::End::EndOfTurn: return "end of turn";
        case TurnStats::End::StopString: return "stop string";
        case TurnStats::End::Length: return "length limit";
        case TurnStats::End::ContextFull: return "context full";
        case TurnStats::End::Interrupted: return "interrupted";
    }
    return "?";
}

Chat::Chat(Session& session, const text::Tokenizer& tokenizer, const text::ChatTemplate& chat_template,
           ChatSettings settings)
    : session_(session), tokenizer_(tokenizer), template_(chat_template), settings_(std::move(settings)),
      sampler_(settings_.sampling) {
    reset();
}

void Chat::reset() {
    messages_.clear();
    if (!settings_.system_prompt.empty()) messages_.push_back({text::Role::System, settings_.system_prompt});
    cached_.clear();
    session_.reset();
}

std::string Chat::rendered(bool add_generation_prompt) const {
    text::ChatOptions options;
    options.add_generation_prompt = add_generation_prompt;
    options.bos_token = token_or_empty(tokenizer_, tokenizer_.bos());
    options.eos_token = token_or_empty(tokenizer_, tokenizer_.eos());
    return template_.render(messages_, options);
}

// Runs only the part of `tokens` the cache does not hold; returns the last position's logits.
std::vector<float> Chat::evaluate_prompt(const std::vector<uint32_t>& tokens, TurnStats& stats) {
    size_t same = 0;
    while (same < tokens.size() && same < cached_.size() && tokens[same] == cached_[same]) ++same;
    if (same == tokens.size()) --same;  // at least one token must run to give logits
    session_.truncate(static_cast<uint32_t>(same));
    cached_.resize(same);
    std::span<const uint32_t> rest(tokens.data() + same, tokens.size() - same);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<float> logits = session_.eval(rest, false);
    stats.prompt_seconds = seconds_since(t0);
    cached_.insert(cached_.end(), rest.begin(), rest.end());
    stats.prompt_tokens = static_cast<uint32_t>(tokens.size());
    stats.reused_tokens = static_cast<uint32_t>(same);
    stats.evaluated_tokens = static_cast<uint32_t>(rest.size());
    return logits;
}

TurnStats Chat::send(std::string_view user_message, const std::function<bool(std::string_view)>& on_text) {
    TurnStats stats;
    messages_.push_back({text::Role::User, std::string(user_message)});
    std::vector<uint32_t> prompt;
    try {
        // The template writes BOS as text where it wants one; special tokens in it are parsed.
        bool add_bos = tokenizer_.add_bos() && !template_.writes_bos();
        prompt = tokenizer_.encode(rendered(true), add_bos, true);
        if (prompt.size() >= session_.n_ctx())
            throw Error(ErrorCode::ContextFull, "context full: the conversation needs " +
                                                        std::to_string(prompt.size()) + " tokens of " +
                                                        std::to_string(session_.n_ctx()) + "; /reset starts over");
    } catch (...) {
        messages_.pop_back();
        throw;
    }
    std::vector<float> logits = evaluate_prompt(prompt, stats);

    std::string eos = token_or_empty(tokenizer_, tokenizer_.eos());
    text::StopMatcher stops(template_.stop_strings(eos));
    text::Detokenizer detok(tokenizer_, false, true);
    std::string reply;
    auto emit = [&](const std::string& piece) {
        reply += piece;
        return piece.empty() || on_text(piece);
    };
    auto t0 = std::chrono::steady_clock::now();
    for (;;) {
        if (stats.generated_tokens >= settings_.max_reply_tokens) {
            stats.end = TurnStats::End::Length;
            break;
        }
        if (session_.position() + 1 >= session_.n_ctx()) {
            stats.end = TurnStats::End::ContextFull;
            break;
        }
        uint32_t next = sampler_.sample(logits, cached_);
        if (tokenizer_.is_eog(next)) {
            stats.end = TurnStats::End::EndOfTurn;
            break;
        }
        ++stats.generated_tokens;
        text::StopMatcher::Step step = stops.feed(detok.push(next));
        if (!emit(step.text)) {
            stats.end = TurnStats::End::Interrupted;
            break;
        }
        if (step.stopped) {
            stats.end = TurnStats::End::StopString;
            break;
        }
        logits = session_.eval(std::span<const uint32_t>(&next, 1), false);
        cached_.push_back(next);
    }
    if (stats.end != TurnStats::End::StopString && stats.end != TurnStats::End::Interrupted) {
        text::StopMatcher::Step tail = stops.feed(detok.flush());
        if (emit(tail.text)) emit(stops.flush());
    }
    stats.generate_seconds = seconds_since(t0);
    messages_.push_back({text::Role::Assistant, reply});
    return stats;
}

}  // namespace moevk::runtime
