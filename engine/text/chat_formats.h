// The chat formats moe-vk renders, one struct per family holding what its real templates leave
// open (read from a template's text by detect(), or fixed by a name). Each family's render
// function reproduces what the family's Jinja templates produce for plain conversations (system,
// user and assistant text; no tools, no images).
#pragma once

#include <string>
#include <string_view>
#include <variant>

namespace moevk::text::format {

// <|im_start|>role\n...<|im_end|>\n: Qwen 1.5 to 3, OpenHermes and other ChatML templates.
struct ChatMl {
    // Emitted as the system turn when the conversation has none (Qwen2 and Qwen2.5 name one).
    std::string default_system;
    // Qwen3: an assistant turn after the last user message is written with its <think> block
    // (an empty one if it has none); earlier turns lose theirs.
    bool qwen3_reasoning = false;
    // The template reads enable_thinking: false closes an empty <think> block in the prompt.
    bool thinking_switch = false;
    // The generation prompt opens the <think> block itself (Qwen3 thinking-only models).
    bool opens_think = false;
};

// [INST] ... [/INST]: Mistral and Mixtral. The spacing differs per tokenizer generation, so it is
// data: " [INST] " / " [/INST]" (v1, Mixtral 8x7B), "[INST] " / "[/INST]" (v3, Mixtral 8x22B),
// "[INST]" / "[/INST]" (v3-tekken), "[INST] " / " [/INST]" (templates before v1).
struct Mistral {
    enum class System {
        FirstUser,  // folded into the first user turn as "system\n\nuser" (v1 and before)
        LastUser,   // folded into the last user turn, and only when it is the last message (v3)
        Tokens,     // its own [SYSTEM_PROMPT] ...[/SYSTEM_PROMPT] turn (v7)
    };
    std::string open = "[INST] ";
    std::string system_open = "[SYSTEM_PROMPT] ";  // v7
    std::string close = " [/INST]";
    std::string reply_prefix;  // before an assistant reply: " " in v1, v3 and v7
    bool trim_reply = false;   // v3 writes the reply stripped of surrounding whitespace
    System system = System::FirstUser;
};

// <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>, contents stripped.
struct Llama3 {
    // Llama 3.1 and later: a system turn always leads, with the knowledge cutoff and a date.
    bool dated_system = false;
    // The date such a template falls back to when it cannot read the clock ("26 Jul 2024" in
    // 3.1 and 3.3); empty when it asks for today's (3.2: strftime_now).
    std::string fixed_date;
};

// <|user|>\n...<|end|>\n: Phi-3, Phi-3.5 and Phi-3.5-MoE.
struct Phi3 {};

// DeepSeek: "User: ...\n\nAssistant: ..." in the LLM, MoE and V2 chat models; <｜User｜> and
// <｜Assistant｜> tokens from V2.5 on, the system prompts first, joined by blank lines.
struct DeepSeek {
    bool role_tokens = false;  // <｜User｜> / <｜Assistant｜> rather than "User: " / "Assistant: "
    bool strip_think = false;  // R1: a reply loses everything up to its last </think>
    bool opens_think = false;  // R1: the generation prompt opens a <think> block
    // V3.1: the assistant tag after a user turn is followed by </think>, or <think> when
    // thinking; a reply loses everything up to its first </think>.
    bool think_tags = false;
};

// OpenAI's harmony format (gpt-oss): <|start|>role<|message|>...<|end|>, replies in the final
// channel, a fixed system message naming the date and the reasoning effort.
struct GptOss {};

// <|user|>\n...\n<|assistant|>\n...<eos>: the Tulu format of OLMoE and OLMo 2 instruct models.
struct Tulu {};

using Format = std::variant<ChatMl, Mistral, Llama3, Phi3, DeepSeek, GptOss, Tulu>;

}  // namespace moevk::text::format
