// Chat templates: a conversation rendered to the prompt text a model was tuned on.
//
// GGUF files carry the template as Jinja source (tokenizer.chat_template). moe-vk does not run
// Jinja: detect() recognises the template's family from the text (and what varies within the
// family: spacing, a default system prompt, reasoning blocks) and a hand-written renderer writes
// what the Jinja would, character for character, for conversations of system, user and
// assistant text. A template it does not recognise is an Error(Unsupported); from_name() is the
// override (a --chat-template NAME option).
//
// The text holds special tokens as text ("<|im_start|>", and the BOS text where the template
// writes bos_token): tokenize it with special tokens parsed and without adding another BOS.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/chat_formats.h"

namespace moevk::text {

enum class Role { System, User, Assistant };
const char* role_name(Role role);  // "system", "user", "assistant"

struct ChatMessage {
    Role role = Role::User;
    std::string content;
};

struct ChatOptions {
    // End with the opening of an assistant turn, for the model to continue.
    bool add_generation_prompt = true;
    // What the template's bos_token and eos_token stand for (the vocabulary's token texts).
    std::string bos_token;
    std::string eos_token;
    // Reasoning switch of Qwen3 hybrid and DeepSeek V3.1 templates; unset: the template's default.
    std::optional<bool> enable_thinking;
    // The date that Llama 3.1+ and gpt-oss system messages state; unset: today (local time), or
    // the fixed date of a template that has one.
    std::optional<std::chrono::year_month_day> date;
    // gpt-oss: "low", "medium" or "high".
    std::string reasoning_effort = "medium";
};

class ChatTemplate {
public:
    // Recognises the family of a tokenizer.chat_template text. Error(Unsupported) naming what it
    // saw (the start of the text, a marker of a family it knows but cannot render) otherwise.
    static ChatTemplate detect(std::string_view source);
    // A format by name (names()); Error(InvalidArgument) listing the names otherwise.
    static ChatTemplate from_name(std::string_view name);
    static std::span<const std::string_view> names();

    // The name of the format in names() it is, or is closest to: a detected template can differ
    // from the named format in what its text fixes (a default system prompt, a fixed date).
    const std::string& name() const { return name_; }
    const format::Format& format() const { return format_; }
    // Whether the text starts with the BOS text (the template writes bos_token).
    bool writes_bos() const { return bos_; }

    // The prompt text. Error(InvalidArgument) for a conversation the template would reject
    // (Mistral: roles must alternate user/assistant after one optional leading system message;
    // every family: at least one message).
    std::string render(std::span<const ChatMessage> messages,
                       const ChatOptions& options = {}) const;

    // Texts that end the assistant's turn, for a StopMatcher: the family's end-of-turn marker
    // first (e.g. "<|im_end|>"; the EOS text where the format ends a reply with eos_token), then
    // the EOS text, then the opening of a next turn where that is a special token of its own.
    std::vector<std::string> stop_strings(std::string_view eos_token) const;

private:
    ChatTemplate(std::string name, format::Format format, bool bos)
        : name_(std::move(name)), format_(std::move(format)), bos_(bos) {}

    std::string name_;
    format::Format format_;
    bool bos_ = false;
};

}  // namespace moevk::text
