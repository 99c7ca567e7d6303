// A conversation with a model: messages rendered through the model's chat template, the prompt
// evaluated only where the KV cache does not already hold it, and the reply sampled and streamed
// as text until an end-of-turn token, a stop string, a length limit or the caller says stop.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/sampler.h"
#include "runtime/session.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace moevk::runtime {

struct ChatSettings {
    SamplingParams sampling;
    uint32_t max_reply_tokens = 256;
    std::string system_prompt;  // empty: none
};

// What one turn did. reused + evaluated = prompt_tokens: the cache already held `reused` of the
// rendered conversation's tokens, so only `evaluated` went through the model.
struct TurnStats {
    uint32_t prompt_tokens = 0;
    uint32_t reused_tokens = 0;
    uint32_t evaluated_tokens = 0;
    uint32_t generated_tokens = 0;
    double prompt_seconds = 0;
    double generate_seconds = 0;
    enum class End { EndOfTurn, StopString, Length, ContextFull, Interrupted } end = End::EndOfTurn;
};
const char* end_name(TurnStats::End end);

class Chat {
public:
    // The session, tokenizer and template must outlive the Chat.
    Chat(Session& session, const text::Tokenizer& tokenizer, const text::ChatTemplate& chat_template,
         ChatSettings settings);

    // Adds the user's message and streams the reply through `on_text` (pieces of whole UTF-8;
    // return false to stop, e.g. on Ctrl-C). The reply, as far as it got, joins the conversation.
    // Error(InvalidArgument) when the conversation no longer fits the context ("context full");
    // the message is not kept then.
    TurnStats send(std::string_view user_message, const std::function<bool(std::string_view)>& on_text);

    // Starts a new conversation (the cache is reused from position 0).
    void reset();

    const std::vector<text::ChatMessage>& messages() const { return messages_; }
    // The tokens the KV cache holds, in order.
    const std::vector<uint32_t>& cached_tokens() const { return cached_; }
    // The conversation so far as the template renders it (no generation prompt).
    std::string rendered(bool add_generation_prompt) const;

private:
    std::vector<float> evaluate_prompt(const std::vector<uint32_t>& tokens, TurnStats& stats);

    Session& session_;
    const text::Tokenizer& tokenizer_;
    const text::ChatTemplate& template_;
    ChatSettings settings_;
    Sampler sampler_;
    std::vector<text::ChatMessage> messages_;
    std::vector<uint32_t> cached_;
};

}  // namespace moevk::runtime
