// libFuzzer target for chat templates: detection of a tokenizer.chat_template text (or a format
// by name), rendering a conversation with it, and its stop strings streamed through a
// StopMatcher. Input: a flags byte, the template text up to a NUL, then messages, each a role
// byte and its content up to the next NUL. detect, from_name and render may only throw
// moevk::Error; a stop string is never empty; a StopMatcher that did not stop gives back
// exactly what it was fed. The same texts go through a HarmonyReply (gpt-oss replies): in
// pieces of 1..7 bytes they split as they do whole, in pieces that are never empty.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gpu/error.h"
#include "text/chat_template.h"
#include "text/harmony_reply.h"
#include "text/stop_matcher.h"

namespace {

using namespace moevk::text;

// Streams `text` in pieces of 1..7 bytes; returns the released text plus what flush() gives.
void check_stream(const std::vector<std::string>& stops, std::string_view text) {
    StopMatcher m(stops);
    std::string out;
    for (size_t i = 0, n = 1; i < text.size(); i += n, n = n % 7 + 1) {
        StopMatcher::Step s = m.feed(text.substr(i, n));
        out += s.text;
        if (s.stopped) {
            if (!m.stopped() || s.stop.empty() || text.substr(0, out.size()) != out)
                __builtin_trap();
            return;
        }
    }
    out += m.flush();
    if (out != text) __builtin_trap();
}

// The text of each channel, in order, of `text` fed in pieces of `step` bytes (0: whole).
std::vector<HarmonyReply::Piece> split_harmony(std::string_view text, size_t step) {
    HarmonyReply r;
    std::vector<HarmonyReply::Piece> all;
    auto take = [&](std::vector<HarmonyReply::Piece> pieces) {
        for (HarmonyReply::Piece& p : pieces) {
            if (p.text.empty()) __builtin_trap();
            if (!all.empty() && all.back().channel == p.channel)
                all.back().text += p.text;
            else
                all.push_back(std::move(p));
        }
    };
    if (step == 0) {
        take(r.feed(text));
    } else {
        for (size_t i = 0, n = step; i < text.size(); i += n, n = n % 7 + 1)
            take(r.feed(text.substr(i, n)));
    }
    take(r.finish(HarmonyReply::End::StopToken));
    return all;
}

void check_harmony(std::string_view text) {
    if (split_harmony(text, 1) != split_harmony(text, 0)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    size_t end = rest.find('\0');
    std::string_view source = rest.substr(0, end);
    std::vector<ChatMessage> messages;
    while (end != std::string_view::npos && end + 1 < rest.size()) {
        rest.remove_prefix(end + 1);
        end = rest.find('\0');
        std::string_view m = rest.substr(0, end);
        if (m.empty()) m = "\x01";  // a user message with no content
        auto role = static_cast<Role>(static_cast<uint8_t>(m[0]) % 3);
        messages.push_back({role, std::string(m.substr(1))});
    }

    ChatOptions o;
    o.add_generation_prompt = flags & 1;
    if (flags & 2) o.enable_thinking = (flags & 4) != 0;
    if (flags & 8)
        o.date = std::chrono::year{2000 + flags} / std::chrono::month{flags % 14u} /
                 std::chrono::day{flags % 33u};
    static constexpr const char* kEfforts[] = {"low", "medium", "high", ""};
    o.reasoning_effort = kEfforts[(flags >> 4) & 3];
    if (!(flags & 0x80)) {
        o.bos_token = "<s>";
        o.eos_token = "</s>";
    }

    std::optional<ChatTemplate> t;
    try {
        t.emplace(flags & 0x40 ? ChatTemplate::from_name(source) : ChatTemplate::detect(source));
    } catch (const moevk::Error&) {
        return 0;  // not a template (or name) moe-vk knows: the expected outcome for most inputs
    }
    std::vector<std::string> stops = t->stop_strings(o.eos_token);
    for (const std::string& s : stops)
        if (s.empty()) __builtin_trap();
    std::string prompt;
    try {
        prompt = t->render(messages, o);
    } catch (const moevk::Error&) {
        return 0;  // a conversation the template refuses
    }
    check_stream(stops, prompt);
    check_harmony(prompt);
    for (const ChatMessage& m : messages) {
        check_stream(stops, m.content);
        check_harmony(m.content);
    }
    return 0;
}
