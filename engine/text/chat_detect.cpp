// Which format a tokenizer.chat_template text is, and the named formats. Recognition looks for
// the markers each family's templates write (facts from the released templates: Qwen, Mistral,
// Meta, Microsoft, DeepSeek, OpenAI, AllenAI tokenizer configs) rather than parsing the Jinja.
#include <array>
#include <string>
#include <utility>

#include "gpu/error.h"
#include "text/chat_template.h"

namespace moevk::text {
namespace {

constexpr std::array<std::string_view, 17> kNames{
    "chatml",
    "qwen3",
    "mistral",
    "mistral-legacy",
    "mistral-v1",
    "mistral-v3",
    "mistral-v3-tekken",
    "mistral-v7",
    "llama3",
    "llama3.1",
    "phi3",
    "deepseek",
    "deepseek3",
    "deepseek-r1",
    "deepseek-v3.1",
    "gpt-oss",
    "tulu",
};

std::string name_list() {
    std::string s;
    for (std::string_view n : kNames) s += (s.empty() ? "" : ", ") + std::string(n);
    return s;
}

// Template sources write newlines inside string literals as the escape \n, or (after a round
// trip through JSON) as newline characters. Markers are matched against the text with the
// escape turned into the character, so one spelling covers both.
std::string unescape_newlines(std::string_view source) {
    std::string t;
    t.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\\' && i + 1 < source.size() && source[i + 1] == 'n') {
            t += '\n';
            ++i;
        } else {
            t += source[i];
        }
    }
    return t;
}

bool has(const std::string& text, std::string_view what) {
    return text.find(what) != std::string::npos;
}
// `what` inside a string literal of either quote: has_quoted(t, "' + x") matches ' + x and " + x.
bool has_quoted(const std::string& text, std::string_view what) {
    std::string alt(what);
    for (char& c : alt) c = c == '\'' ? '"' : c;
    return has(text, what) || has(text, alt);
}

// The literal system prompt a ChatML template writes when the conversation has none: the text
// between "<|im_start|>system\n" and "<|im_end|>" where that is plain text rather than an
// expression (Qwen2: "You are a helpful assistant.", Qwen2.5: "You are Qwen, created by ...").
std::string chatml_default_system(const std::string& t) {
    constexpr std::string_view kOpen = "<|im_start|>system\n";
    for (size_t at = t.find(kOpen); at != std::string::npos; at = t.find(kOpen, at + 1)) {
        size_t start = at + kOpen.size();
        size_t end = t.find("<|im_end|>", start);
        if (end == std::string::npos) break;
        std::string_view text(t.data() + start, end - start);
        if (!text.empty() && text.find_first_of("'\"{}+") == std::string_view::npos)
            return std::string(text);
    }
    return {};
}

// Llama 3.1 and 3.3 set date_string = "26 Jul 2024" unless strftime_now exists (3.2 asks it).
std::string llama_fixed_date(const std::string& t) {
    if (has(t, "strftime_now")) return {};
    constexpr std::string_view kSet = "date_string = \"";
    size_t at = t.find(kSet);
    if (at == std::string::npos) return {};
    size_t start = at + kSet.size();
    size_t end = t.find('"', start);
    return end == std::string::npos ? std::string() : t.substr(start, end - start);
}

format::Mistral mistral_format(const std::string& t) {
    format::Mistral f;
    if (has_quoted(t, "' [INST] '"))
        f.open = " [INST] ";
    else if (has_quoted(t, "[INST]'"))
        f.open = "[INST]";
    f.close = has(t, " [/INST]") ? " [/INST]" : "[/INST]";
    f.reply_prefix = has_quoted(t, "' ' + message") ? " " : "";
    f.trim_reply = has(t, "|trim + eos_token") || has(t, "| trim + eos_token");
    if (has(t, "[SYSTEM_PROMPT]")) {
        f.system = format::Mistral::System::Tokens;
        f.system_open = has(t, "[SYSTEM_PROMPT] ") ? "[SYSTEM_PROMPT] " : "[SYSTEM_PROMPT]";
    } else if (has(t, "loop.last and system_message")) {
        f.system = format::Mistral::System::LastUser;
    }
    return f;
}

format::Mistral mistral(std::string open, std::string close, std::string reply_prefix,
                        bool trim_reply, format::Mistral::System system) {
    format::Mistral f;
    f.open = std::move(open);
    f.close = std::move(close);
    f.reply_prefix = std::move(reply_prefix);
    f.trim_reply = trim_reply;
    f.system = system;
    return f;
}

std::string mistral_name(const format::Mistral& f) {
    using S = format::Mistral::System;
    if (f.system == S::Tokens) return "mistral-v7";
    if (f.system == S::LastUser) return f.open == "[INST]" ? "mistral-v3-tekken" : "mistral-v3";
    return f.open == " [INST] " ? "mistral-v1" : "mistral-legacy";
}

// Families that are recognisable but have no renderer, so the error can say what it saw.
struct Known {
    std::string_view marker;
    std::string_view family;
};
constexpr std::array<Known, 7> kUnrendered{{
    {"<start_of_turn>", "Gemma"},
    {"<|im_sep|>", "Phi-4"},
    {"<|START_OF_TURN_TOKEN|>", "Command R"},
    {"<|header_start|>", "Llama 4"},
    {"[gMASK]", "GLM"},
    {"<|role_start|>", "Megrez"},
    {"<|user|>", "Zephyr-style"},
}};

[[noreturn]] void unrecognised(std::string_view source, const std::string& t) {
    std::string start;
    for (char c : source.substr(0, 80)) start += c == '\n' ? std::string("\\n") : std::string(1, c);
    std::string message = "chat template not recognised: it starts \"" + start +
                          (source.size() > 80 ? "...\"" : "\"");
    for (const Known& k : kUnrendered) {
        if (has(t, k.marker)) {
            message += "; it looks like a " + std::string(k.family) + " template (" +
                       std::string(k.marker) + "), which moe-vk cannot render";
            break;
        }
    }
    throw Error(ErrorCode::Unsupported, message + "; choose a format by name: " + name_list());
}

}  // namespace

std::span<const std::string_view> ChatTemplate::names() {
    return kNames;
}

ChatTemplate ChatTemplate::detect(std::string_view source) {
    if (source.find_first_not_of(" \t\r\n") == std::string_view::npos)
        throw Error(ErrorCode::Unsupported,
                    "the model has no chat template (tokenizer.chat_template is empty); choose a "
                    "format by name: " +
                        name_list());
    const std::string t = unescape_newlines(source);
    const bool bos = has(t, "bos_token");

    // Order matters where one family's markers appear in another's text: Phi-4 writes
    // <|im_start|> too, and several families write <|user|>.
    if (has(t, "<|start|>") && has(t, "<|message|>") && has(t, "<|channel|>"))
        return ChatTemplate("gpt-oss", format::GptOss{}, false);
    if (has(t, "<|im_start|>") && !has(t, "<|im_sep|>")) {
        format::ChatMl f;
        f.default_system = chatml_default_system(t);
        f.qwen3_reasoning = has(t, "</think>") && has(t, "reasoning_content");
        f.thinking_switch = has(t, "enable_thinking");
        f.opens_think = has(t, "<|im_start|>assistant\n<think>\n");
        std::string name = f.qwen3_reasoning ? "qwen3" : "chatml";
        return ChatTemplate(name, f, bos);
    }
    if (has(t, "<|start_header_id|>") && has(t, "<|eot_id|>")) {
        format::Llama3 f;
        f.dated_system = has(t, "Cutting Knowledge Date");
        if (f.dated_system) f.fixed_date = llama_fixed_date(t);
        return ChatTemplate(f.dated_system ? "llama3.1" : "llama3", f, bos);
    }
    if (has(t, "<｜User｜>") && has(t, "<｜Assistant｜>")) {
        format::DeepSeek f;
        f.role_tokens = true;
        // V3.1 writes the closing tag on its own after the assistant tag.
        f.think_tags = has(t, "{{'</think>'}}") || has(t, "<｜Assistant｜></think>");
        f.strip_think = !f.think_tags && has(t, "</think>");
        f.opens_think = !f.think_tags && has(t, "<｜Assistant｜><think>\n");
        std::string name = f.think_tags                     ? "deepseek-v3.1"
                           : f.strip_think || f.opens_think ? "deepseek-r1"
                                                            : "deepseek3";
        return ChatTemplate(name, f, bos);
    }
    if (has_quoted(t, "'User: '") && has_quoted(t, "'Assistant:"))
        return ChatTemplate("deepseek", format::DeepSeek{}, bos);
    // Phi-3-small builds the role tags from the role name: <|assistant|> is the one it spells out.
    if (has(t, "<|end|>") && has(t, "<|assistant|>"))
        return ChatTemplate("phi3", format::Phi3{}, bos);
    if (has(t, "<|user|>") && has(t, "<|assistant|>") && has(t, "not loop.last"))
        return ChatTemplate("tulu", format::Tulu{}, bos);
    if (has(t, "[INST]")) {
        format::Mistral f = mistral_format(t);
        return ChatTemplate(mistral_name(f), f, bos);
    }
    unrecognised(source, t);
}

ChatTemplate ChatTemplate::from_name(std::string_view name) {
    using S = format::Mistral::System;
    if (name == "chatml") return ChatTemplate("chatml", format::ChatMl{}, false);
    if (name == "qwen3") {
        format::ChatMl f;
        f.qwen3_reasoning = true;
        f.thinking_switch = true;
        return ChatTemplate("qwen3", f, false);
    }
    // Mixtral 8x7B Instruct's template is v1, the default for the bare name.
    if (name == "mistral" || name == "mistral-v1")
        return ChatTemplate("mistral-v1", mistral(" [INST] ", " [/INST]", " ", false, S::FirstUser),
                            true);
    if (name == "mistral-legacy")
        return ChatTemplate("mistral-legacy",
                            mistral("[INST] ", " [/INST]", "", false, S::FirstUser), true);
    if (name == "mistral-v3")
        return ChatTemplate("mistral-v3", mistral("[INST] ", "[/INST]", " ", true, S::LastUser),
                            true);
    if (name == "mistral-v3-tekken")
        return ChatTemplate("mistral-v3-tekken",
                            mistral("[INST]", "[/INST]", "", false, S::LastUser), true);
    if (name == "mistral-v7")
        return ChatTemplate("mistral-v7", mistral("[INST] ", "[/INST]", " ", false, S::Tokens),
                            true);
    if (name == "llama3") return ChatTemplate("llama3", format::Llama3{}, true);
    if (name == "llama3.1")
        return ChatTemplate("llama3.1", format::Llama3{true, "26 Jul 2024"}, true);
    if (name == "phi3") return ChatTemplate("phi3", format::Phi3{}, false);
    if (name == "deepseek") return ChatTemplate("deepseek", format::DeepSeek{}, true);
    if (name == "deepseek3")
        return ChatTemplate("deepseek3", format::DeepSeek{true, false, false, false}, true);
    if (name == "deepseek-r1")
        return ChatTemplate("deepseek-r1", format::DeepSeek{true, true, true, false}, true);
    if (name == "deepseek-v3.1")
        return ChatTemplate("deepseek-v3.1", format::DeepSeek{true, false, false, true}, true);
    if (name == "gpt-oss") return ChatTemplate("gpt-oss", format::GptOss{}, false);
    if (name == "tulu") return ChatTemplate("tulu", format::Tulu{}, true);
    throw Error(ErrorCode::InvalidArgument, "unknown chat template name \"" + std::string(name) +
                                                "\"; the names are: " + name_list());
}

}  // namespace moevk::text
