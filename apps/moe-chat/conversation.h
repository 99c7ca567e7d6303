// The conversation as moe-chat keeps it: the messages so far, fed whole each turn (the session
// evaluates only what its cache does not hold), and what each turn cost. With gpt-oss's harmony
// template a reply comes in channels (reasoning, tool calls, the answer): only the answer joins
// the conversation, as the template asks for earlier turns.
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
    bool answered = false;       // the answer (the final channel) has text
    bool answer_closed = false;  // harmony: the final message was closed, which ended the reply
};

// The sums over a session's turns, for /stats.
struct Totals {
    uint32_t turns = 0, evaluated = 0, reused = 0, generated = 0;
    double generate_seconds = 0;
    void add(const Turn& t);
};

// "[prompt ...; reply ...; ended by ...]": speeds only where there was enough work to time.
// A reply moe-chat stopped because its answer was closed says so rather than "stopped".
std::string describe_turn(const Turn& t);
std::string describe_totals(const Totals& totals, const moevk_session_info& info);

// What a conversation is fed with besides its messages.
struct ChatSettings {
    std::string system_prompt;     // "" for none
    std::string template_name;     // --chat-template; "" for the model's own
    std::string reasoning_effort;  // gpt-oss's system message: "low", "medium", "high"; "" for its default
    bool harmony = false;          // the template is gpt-oss's: replies are split by channel
    uint32_t max_tokens = 256;
};

// The template (a --chat-template name, else the model's) writes harmony replies.
bool is_harmony_template(const std::string& name);

class Conversation {
public:
    // The prompt's progress, `done` of `total` tokens evaluated; return false to stop the turn.
    using PromptProgress = std::function<bool(uint32_t done, uint32_t total)>;
    // Each piece of the reply's text and its channel (always the final channel but for harmony
    // replies); return false to stop it.
    using ReplyText = std::function<bool(moevk_channel, std::string_view)>;

    Conversation(moevk::Session& session, ChatSettings settings);

    void reset();

    // Evaluates the conversation with `user` appended, reporting progress, then streams the
    // reply. The reply (its final channel), as far as it got, joins the conversation; a message
    // that does not fit (context full) is not kept. A harmony reply stops when its answer is
    // closed: what the model writes after it is not for the user.
    Turn send(const std::string& user, const PromptProgress& on_prompt, const ReplyText& on_text);

private:
    // Runs the pending prompt in the frame-loop mode, so that it can report progress between
    // forward steps and stop there; false when on_prompt asked to stop.
    bool evaluate_prompt(const PromptProgress& on_prompt, moevk_generation& figures);
    // Generates the reply into `turn`; returns the answer's text.
    std::string generate_reply(const ReplyText& on_text, Turn& turn);

    moevk::Session& session_;
    ChatSettings settings_;
    std::vector<moevk::Message> messages_;
};

}  // namespace moechat
