// The conversation as moe-chat keeps it: the messages so far, fed whole each turn (the session
// evaluates only what its cache does not hold), and what each turn cost.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <moevk/moevk.hpp>

namespace moechat {

// What one turn did: the rendered conversation's tokens, of which the cache already held
// `reused`; the prompt's and the reply's figures (one generation's result).
struct Turn {
    uint32_t prompt_tokens = 0, reused = 0;
    moevk_generation generation{};
};

// The sums over a session's turns, for /stats.
struct Totals {
    uint32_t turns = 0, evaluated = 0, reused = 0, generated = 0;
    double generate_seconds = 0;
    void add(const Turn& t);
};

// "[prompt ...; reply ...; ended by ...]": speeds only where there was enough work to time.
std::string describe_turn(const Turn& t);
std::string describe_totals(const Totals& totals, const moevk_session_info& info);

class Conversation {
public:
    // The prompt's progress, `done` of `total` tokens evaluated; return false to stop the turn.
    using PromptProgress = std::function<bool(uint32_t done, uint32_t total)>;
    // Each piece of the reply's text; return false to stop it.
    using ReplyText = std::function<bool(std::string_view)>;

    Conversation(moevk::Session& session, std::string system_prompt, std::string template_name, uint32_t max_tokens);

    void reset();

    // Evaluates the conversation with `user` appended, reporting progress, then streams the
    // reply. The reply, as far as it got, joins the conversation; a message that does not fit
    // (context full) is not kept.
    Turn send(const std::string& user, const PromptProgress& on_prompt, const ReplyText& on_text);

private:
    // Runs the pending prompt in the frame-loop mode, so that it can report progress between
    // forward steps and stop there; false when on_prompt asked to stop.
    bool evaluate_prompt(const PromptProgress& on_prompt, moevk_generation& figures);

    moevk::Session& session_;
    std::string system_, template_;
    uint32_t max_tokens_;
    std::vector<moevk::Message> messages_;
};

}  // namespace moechat
