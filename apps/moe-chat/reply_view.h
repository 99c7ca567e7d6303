// How a reply's channels reach stdout. Most templates have one channel, the answer; gpt-oss
// (harmony) also writes its reasoning (analysis) and tool calls (commentary). The answer is
// written as it comes; the other channels are hidden, or with --show-reasoning set apart from
// it: dim on a terminal (ANSI faint), a "[analysis] " at the start of each of their lines in a
// log or pipe. A line break parts them from the answer.
#pragma once

#include <string>
#include <string_view>

#include <moevk/moevk.h>

namespace moechat {

class ReplyView {
public:
    enum class Style { Terminal, Plain };

    ReplyView(bool show_reasoning, Style style) : show_reasoning_(show_reasoning), style_(style) {}

    // The bytes to write for a piece of a reply's `channel`: "" for a hidden channel.
    std::string render(moevk_channel channel, std::string_view text);
    // What the reply ends with: the terminal's attributes back to normal.
    std::string end();
    // Whether a channel's text is written at all.
    bool shows(moevk_channel channel) const { return channel == MOEVK_CHANNEL_FINAL || show_reasoning_; }

private:
    std::string switch_to(moevk_channel channel);

    bool show_reasoning_;
    Style style_;
    bool started_ = false;  // anything written yet
    moevk_channel current_ = MOEVK_CHANNEL_FINAL;
    bool line_start_ = true;  // the last byte written was a line break, or none was written
};

}  // namespace moechat
