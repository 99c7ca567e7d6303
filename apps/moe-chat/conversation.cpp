#include "conversation.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

namespace moechat {

namespace {

// A speed is shown only over enough work: one token stopped by Ctrl-C takes no measurable time
// and would claim thousands of tokens a second.
bool worth_a_speed(uint32_t tokens, double seconds) { return tokens >= 4 && seconds >= 0.01; }

std::string format(const char* fmt, auto... args) {
    char buf[256];
    std::snprintf(buf, sizeof buf, fmt, args...);
    return buf;
}

// GPU work a frame-loop call submits while the prompt runs; the loop only polls between calls,
// so a larger budget costs nothing but the granularity of the progress line.
constexpr uint32_t kPromptStepBudgetUs = 200'000;

}  // namespace

void Totals::add(const Turn& t) {
    ++turns;
    evaluated += t.generation.prompt_tokens;
    reused += t.reused;
    generated += t.generation.generated_tokens;
    generate_seconds += t.generation.generate_seconds;
}

std::string describe_turn(const Turn& t) {
    const moevk_generation& g = t.generation;
    std::string s = format("[prompt %u tokens: %u from the cache, %u evaluated in %.2f s", t.prompt_tokens, t.reused,
                           g.prompt_tokens, g.prompt_seconds);
    if (worth_a_speed(g.prompt_tokens, g.prompt_seconds)) s += format(" (%.1f tokens/s)", g.prompt_tokens / g.prompt_seconds);
    s += format("; reply %u tokens", g.generated_tokens);
    if (worth_a_speed(g.generated_tokens, g.generate_seconds))
        s += format(" at %.1f tokens/s", g.generated_tokens / g.generate_seconds);
    return s + "; ended by " + (t.answer_closed ? "the end of the answer" : moevk_end_reason_name(g.end)) + "]";
}

std::string describe_totals(const Totals& totals, const moevk_session_info& info) {
    std::string s = format("[%u turns; %u prompt tokens evaluated, %u reused from the cache; %u generated", totals.turns,
                           totals.evaluated, totals.reused, totals.generated);
    if (worth_a_speed(totals.generated, totals.generate_seconds))
        s += format(" at %.1f tokens/s", totals.generated / totals.generate_seconds);
    return s + format("; cache holds %u of %u positions]", info.position, info.n_ctx);
}

bool is_harmony_template(const std::string& name) { return name == "gpt-oss"; }

Conversation::Conversation(moevk::Session& session, ChatSettings settings)
    : session_(session), settings_(std::move(settings)) {
    reset();
}

void Conversation::reset() {
    messages_.clear();
    if (!settings_.system_prompt.empty()) messages_.push_back({MOEVK_ROLE_SYSTEM, settings_.system_prompt});
    session_.reset();
}

bool Conversation::evaluate_prompt(const PromptProgress& on_prompt, moevk_generation& figures) {
    moevk::Generate evaluate_only;
    evaluate_only.max_tokens = 0;
    uint32_t first = session_.info().position, total = session_.info().pending;
    session_.start(evaluate_only);
    uint32_t reported = UINT32_MAX;
    for (;;) {
        moevk_step_result r = session_.step(kPromptStepBudgetUs);
        if (r.done) break;
        uint32_t done = session_.info().position - first;
        if (done != reported) {
            reported = done;
            if (!on_prompt(done, total)) {
                session_.stop();
                figures = session_.last_generation();
                return false;
            }
        }
        if (r.in_flight) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    figures = session_.last_generation();
    return true;
}

Turn Conversation::send(const std::string& user, const PromptProgress& on_prompt, const ReplyText& on_text) {
    messages_.push_back({MOEVK_ROLE_USER, user});
    moevk_chat_options options = moevk_chat_options_default();
    if (!settings_.template_name.empty()) options.template_name = settings_.template_name.c_str();
    if (!settings_.reasoning_effort.empty()) options.reasoning_effort = settings_.reasoning_effort.c_str();
    Turn turn;
    moevk_generation prompt{};
    try {
        session_.feed_chat(messages_, options);
        moevk_session_info info = session_.info();
        turn.reused = info.position;
        turn.prompt_tokens = info.position + info.pending;
        if (!evaluate_prompt(on_prompt, prompt)) {
            // Stopped before the reply began: the message stays out, as if never sent.
            messages_.pop_back();
            turn.generation = prompt;
            return turn;
        }
    } catch (...) {
        messages_.pop_back();
        throw;
    }
    std::string answer = generate_reply(on_text, turn);
    turn.generation.prompt_tokens = prompt.prompt_tokens;
    turn.generation.prompt_seconds = prompt.prompt_seconds;
    messages_.push_back({MOEVK_ROLE_ASSISTANT, answer});
    return turn;
}

std::string Conversation::generate_reply(const ReplyText& on_text, Turn& turn) {
    std::string answer;
    std::optional<moevk::HarmonyReply> split;
    if (settings_.harmony) split.emplace();
    bool go_on = true;
    // Like the reply of a template without channels, the answer keeps what was offered to the
    // user up to the piece after which the user or a failed write stopped it.
    auto take = [&](moevk_channel channel, std::string_view text) {
        if (!go_on) return;
        if (channel == MOEVK_CHANNEL_FINAL) answer += text;
        go_on = on_text(channel, text);
    };
    moevk::Generate g;
    g.max_tokens = settings_.max_tokens;
    g.on_token = [&](int32_t, std::string_view text) {
        if (text.empty()) return true;
        if (!split) {
            take(MOEVK_CHANNEL_FINAL, text);
            return go_on;
        }
        for (const moevk::HarmonyReply::Piece& p : split->feed(text)) take(p.channel, p.text);
        if (go_on && split->final_ended()) turn.answer_closed = true;
        return go_on && !split->final_ended() && !split->done();
    };
    turn.generation = session_.generate(g);
    if (split)
        for (const moevk::HarmonyReply::Piece& p : split->finish(turn.generation.end)) take(p.channel, p.text);
    turn.answered = !answer.empty();
    return answer;
}

}  // namespace moechat
