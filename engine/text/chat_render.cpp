// The renderers: each writes what its family's Jinja templates write for a conversation of
// system, user and assistant text, with the same string operations (Jinja's trim is Python's
// strip(), Qwen3's split/lstrip/rstrip are Python's too).
#include <algorithm>
#include <ctime>
#include <string>
#include <type_traits>

#include "gpu/error.h"
#include "text/chat_template.h"
#include "text/whitespace.h"

namespace moevk::text {
namespace {

using Messages = std::span<const ChatMessage>;

std::string_view strip_chars(std::string_view s, char c) {
    while (!s.empty() && s.front() == c) s.remove_prefix(1);
    while (!s.empty() && s.back() == c) s.remove_suffix(1);
    return s;
}
std::string_view lstrip_chars(std::string_view s, char c) {
    while (!s.empty() && s.front() == c) s.remove_prefix(1);
    return s;
}
std::string_view rstrip_chars(std::string_view s, char c) {
    while (!s.empty() && s.back() == c) s.remove_suffix(1);
    return s;
}
// Python's s.split(sep)[0] and s.split(sep)[-1].
std::string_view before_first(std::string_view s, std::string_view sep) {
    return s.substr(0, s.find(sep));
}
std::string_view after_last(std::string_view s, std::string_view sep) {
    size_t at = s.rfind(sep);
    return at == std::string_view::npos ? s : s.substr(at + sep.size());
}

std::chrono::year_month_day today() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
#ifdef _WIN32
    localtime_s(&tm, &now);
#else
    localtime_r(&now, &tm);
#endif
    return std::chrono::year_month_day{std::chrono::year{tm.tm_year + 1900},
                                       std::chrono::month{static_cast<unsigned>(tm.tm_mon + 1)},
                                       std::chrono::day{static_cast<unsigned>(tm.tm_mday)}};
}
std::string two_digits(unsigned v) {
    return std::string(1, char('0' + v / 10 % 10)) + char('0' + v % 10);
}
// strftime("%d %b %Y") in the C locale: "26 Jul 2024".
std::string day_month_year(std::chrono::year_month_day d) {
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    return two_digits(static_cast<unsigned>(d.day())) + " " +
           kMonths[(static_cast<unsigned>(d.month()) - 1) % 12] + " " +
           std::to_string(static_cast<int>(d.year()));
}
// strftime("%Y-%m-%d").
std::string iso_date(std::chrono::year_month_day d) {
    return std::to_string(static_cast<int>(d.year())) + "-" +
           two_digits(static_cast<unsigned>(d.month())) + "-" +
           two_digits(static_cast<unsigned>(d.day()));
}

// --- ChatML ----------------------------------------------------------------------------------

// Qwen3 looks for the last user message that is not a wrapped tool response; with none, the
// last message.
size_t last_query(Messages m) {
    for (size_t i = m.size(); i-- > 0;) {
        const std::string& c = m[i].content;
        bool tool = c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
        if (m[i].role == Role::User && !tool) return i;
    }
    return m.size() - 1;
}

void qwen3_reply(std::string& out, Messages m, size_t i, size_t query) {
    std::string_view content = m[i].content;
    std::string_view reasoning;
    if (content.find("</think>") != std::string_view::npos) {
        reasoning = lstrip_chars(
            after_last(rstrip_chars(before_first(content, "</think>"), '\n'), "<think>"), '\n');
        content = lstrip_chars(after_last(content, "</think>"), '\n');
    }
    out += "<|im_start|>assistant\n";
    if (i > query && (i + 1 == m.size() || !reasoning.empty())) {
        out += "<think>\n";
        out += strip_chars(reasoning, '\n');
        out += "\n</think>\n\n";
        out += lstrip_chars(content, '\n');
    } else {
        out += content;
    }
    out += "<|im_end|>\n";
}

std::string render_chatml(const format::ChatMl& f, Messages m, const ChatOptions& o) {
    std::string out;
    if (m.front().role != Role::System && !f.default_system.empty())
        out += "<|im_start|>system\n" + f.default_system + "<|im_end|>\n";
    const size_t query = last_query(m);
    for (size_t i = 0; i < m.size(); ++i) {
        if (f.qwen3_reasoning && m[i].role == Role::Assistant) {
            qwen3_reply(out, m, i, query);
            continue;
        }
        out += "<|im_start|>";
        out += role_name(m[i].role);
        out += "\n" + m[i].content + "<|im_end|>\n";
    }
    if (o.add_generation_prompt) {
        out += "<|im_start|>assistant\n";
        if (f.thinking_switch && o.enable_thinking == false)
            out += "<think>\n\n</think>\n\n";
        else if (f.opens_think)
            out += "<think>\n";
    }
    return out;
}

// --- Mistral ---------------------------------------------------------------------------------

std::string render_mistral(const format::Mistral& f, Messages m, const ChatOptions& o) {
    using S = format::Mistral::System;
    std::string out;
    if (f.system == S::Tokens) {
        // v7 writes every message in place and checks no order.
        for (const ChatMessage& msg : m) {
            if (msg.role == Role::System) out += f.system_open + msg.content + "[/SYSTEM_PROMPT]";
            if (msg.role == Role::User) out += f.open + msg.content + f.close;
            if (msg.role == Role::Assistant) out += f.reply_prefix + msg.content + o.eos_token;
        }
        return out;
    }
    const std::string* system = m.front().role == Role::System ? &m.front().content : nullptr;
    Messages turns = system ? m.subspan(1) : m;
    for (size_t i = 0; i < turns.size(); ++i) {
        Role want = i % 2 == 0 ? Role::User : Role::Assistant;
        if (turns[i].role != want)
            throw Error(ErrorCode::InvalidArgument,
                        std::string("Mistral chat: message ") +
                            std::to_string(i + (system ? 1 : 0)) + " is " +
                            role_name(turns[i].role) +
                            "; after one optional leading system message the roles must "
                            "alternate user/assistant, starting with user");
        if (want == Role::User) {
            bool here = system && (f.system == S::FirstUser ? i == 0 : i + 1 == turns.size());
            out += f.open;
            if (here) out += *system + "\n\n";
            out += turns[i].content + f.close;
        } else {
            std::string_view reply = turns[i].content;
            out += f.reply_prefix;
            out += f.trim_reply ? python_strip(reply) : reply;
            out += o.eos_token;
        }
    }
    return out;
}

// --- Llama 3 ---------------------------------------------------------------------------------

std::string render_llama3(const format::Llama3& f, Messages m, const ChatOptions& o) {
    std::string out;
    if (f.dated_system) {
        // 3.1+ pulls a leading system message into its own system turn, always written.
        std::string_view system;
        if (m.front().role == Role::System) {
            system = python_strip(m.front().content);
            m = m.subspan(1);
        }
        std::string date = o.date                  ? day_month_year(*o.date)
                           : !f.fixed_date.empty() ? f.fixed_date
                                                   : day_month_year(today());
        out +=
            "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: " +
            date + "\n\n";
        out += system;
        out += "<|eot_id|>";
    }
    for (const ChatMessage& msg : m) {
        out += "<|start_header_id|>";
        out += role_name(msg.role);
        out += "<|end_header_id|>\n\n";
        out += python_strip(msg.content);
        out += "<|eot_id|>";
    }
    if (o.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
    return out;
}

// --- Phi-3 -----------------------------------------------------------------------------------

std::string render_phi3(Messages m, const ChatOptions& o) {
    std::string out;
    for (const ChatMessage& msg : m) {
        if (msg.role == Role::System && msg.content.empty()) continue;  // Phi-3.5 skips it
        out += "<|";
        out += role_name(msg.role);
        out += "|>\n" + msg.content + "<|end|>\n";
    }
    out += o.add_generation_prompt ? std::string("<|assistant|>\n") : o.eos_token;
    return out;
}

// --- DeepSeek --------------------------------------------------------------------------------

constexpr std::string_view kDeepSeekEnd = "<｜end▁of▁sentence｜>";

std::string render_deepseek(const format::DeepSeek& f, Messages m, const ChatOptions& o) {
    std::string out;
    if (!f.role_tokens) {
        for (const ChatMessage& msg : m) {
            if (msg.role == Role::System) out += msg.content + "\n\n";
            if (msg.role == Role::User) out += "User: " + msg.content + "\n\n";
            if (msg.role == Role::Assistant) out += "Assistant: " + msg.content + o.eos_token;
        }
        if (o.add_generation_prompt) out += "Assistant:";
        return out;
    }
    // V2.5 and later gather the system prompts at the start, wherever they were.
    bool first_system = true;
    for (const ChatMessage& msg : m) {
        if (msg.role != Role::System) continue;
        if (!first_system) out += "\n\n";
        out += msg.content;
        first_system = false;
    }
    const bool thinking = o.enable_thinking.value_or(false);
    bool after_user = false;
    for (const ChatMessage& msg : m) {
        if (msg.role == Role::User) {
            out += "<｜User｜>" + msg.content;
            after_user = true;
        } else if (msg.role == Role::Assistant) {
            std::string_view reply = msg.content;
            if (f.think_tags) {
                if (after_user) out += "<｜Assistant｜></think>";
                size_t end = reply.find("</think>");
                if (end != std::string_view::npos) reply = reply.substr(end + 8);
            } else {
                out += "<｜Assistant｜>";
                if (f.strip_think) reply = after_last(reply, "</think>");
            }
            out += reply;
            out += kDeepSeekEnd;
            after_user = false;
        }
    }
    if (o.add_generation_prompt) {
        if (f.think_tags) {
            if (after_user) out += thinking ? "<｜Assistant｜><think>" : "<｜Assistant｜></think>";
        } else {
            out += f.opens_think ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>";
        }
    }
    return out;
}

// --- gpt-oss ---------------------------------------------------------------------------------

std::string render_gpt_oss(Messages m, const ChatOptions& o) {
    std::string out =
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
        "Knowledge cutoff: 2024-06\nCurrent date: " +
        iso_date(o.date ? *o.date : today()) + "\n\nReasoning: " + o.reasoning_effort +
        "\n\n# Valid channels: analysis, commentary, final. Channel must be included for every "
        "message.<|end|>";
    // A leading system message becomes the developer message; the template ignores later ones.
    if (m.front().role == Role::System) {
        if (!m.front().content.empty())
            out +=
                "<|start|>developer<|message|># Instructions\n\n" + m.front().content + "<|end|>";
        m = m.subspan(1);
    }
    for (size_t i = 0; i < m.size(); ++i) {
        const std::string& c = m[i].content;
        if (m[i].role == Role::User) {
            out += "<|start|>user<|message|>" + c + "<|end|>";
        } else if (m[i].role == Role::Assistant) {
            if (c.find("<|channel|>analysis<|message|>") != std::string::npos ||
                c.find("<|channel|>final<|message|>") != std::string::npos)
                throw Error(ErrorCode::InvalidArgument,
                            "gpt-oss chat: message " + std::to_string(i) +
                                " holds <|channel|> tags; pass only the final channel's text");
            // <|return|> ends a reply the model is not asked to continue (training layout).
            bool last = i + 1 == m.size() && !o.add_generation_prompt;
            out += "<|start|>assistant<|channel|>final<|message|>" + c +
                   (last ? "<|return|>" : "<|end|>");
        }
    }
    if (o.add_generation_prompt) out += "<|start|>assistant";
    return out;
}

// --- Tulu ------------------------------------------------------------------------------------

std::string render_tulu(Messages m, const ChatOptions& o) {
    std::string out;
    for (size_t i = 0; i < m.size(); ++i) {
        const bool last = i + 1 == m.size();
        if (m[i].role == Role::System) out += "<|system|>\n" + m[i].content + "\n";
        if (m[i].role == Role::User) out += "<|user|>\n" + m[i].content + "\n";
        if (m[i].role == Role::Assistant)
            out += "<|assistant|>\n" + m[i].content + o.eos_token + (last ? "" : "\n");
        if (last && o.add_generation_prompt) out += "<|assistant|>\n";
    }
    return out;
}

}  // namespace

const char* role_name(Role role) {
    switch (role) {
        case Role::System:
            return "system";
        case Role::User:
            return "user";
        case Role::Assistant:
            return "assistant";
    }
    return "?";
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages,
                                 const ChatOptions& options) const {
    if (messages.empty())
        throw Error(ErrorCode::InvalidArgument,
                    "chat template " + name_ + ": no messages to render");
    std::string body = std::visit(
        [&](const auto& f) -> std::string {
            using F = std::decay_t<decltype(f)>;
            if constexpr (std::is_same_v<F, format::ChatMl>)
                return render_chatml(f, messages, options);
            if constexpr (std::is_same_v<F, format::Mistral>)
                return render_mistral(f, messages, options);
            if constexpr (std::is_same_v<F, format::Llama3>)
                return render_llama3(f, messages, options);
            if constexpr (std::is_same_v<F, format::Phi3>) return render_phi3(messages, options);
            if constexpr (std::is_same_v<F, format::DeepSeek>)
                return render_deepseek(f, messages, options);
            if constexpr (std::is_same_v<F, format::GptOss>)
                return render_gpt_oss(messages, options);
            if constexpr (std::is_same_v<F, format::Tulu>) return render_tulu(messages, options);
        },
        format_);
    return bos_ ? options.bos_token + body : body;
}

std::vector<std::string> ChatTemplate::stop_strings(std::string_view eos_token) const {
    struct Stops {
        std::vector<std::string> end;    // what closes an assistant turn in the format
        std::vector<std::string> guard;  // the opening of a next turn, a special token of its own
    };
    Stops s = std::visit(
        [](const auto& f) -> Stops {
            using F = std::decay_t<decltype(f)>;
            if constexpr (std::is_same_v<F, format::ChatMl>)
                return {{"<|im_end|>"}, {"<|im_start|>"}};
            if constexpr (std::is_same_v<F, format::Mistral>) return {{}, {"[INST]"}};
            if constexpr (std::is_same_v<F, format::Llama3>)
                return {{"<|eot_id|>", "<|eom_id|>"}, {"<|start_header_id|>"}};
            if constexpr (std::is_same_v<F, format::Phi3>) return {{"<|end|>"}, {"<|user|>"}};
            if constexpr (std::is_same_v<F, format::DeepSeek>) {
                if (f.role_tokens) return {{std::string(kDeepSeekEnd)}, {"<｜User｜>"}};
                return {};
            }
            if constexpr (std::is_same_v<F, format::GptOss>)
                return {{"<|return|>", "<|call|>"}, {}};
            if constexpr (std::is_same_v<F, format::Tulu>) return {};
        },
        format_);
    std::vector<std::string> stops = std::move(s.end);
    if (!eos_token.empty() && std::find(stops.begin(), stops.end(), eos_token) == stops.end())
        stops.emplace_back(eos_token);
    stops.insert(stops.end(), s.guard.begin(), s.guard.end());
    return stops;
}

}  // namespace moevk::text
