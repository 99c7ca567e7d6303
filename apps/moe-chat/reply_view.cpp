#include "reply_view.h"

namespace moechat {

namespace {

constexpr std::string_view kFaint = "\033[2m", kNormal = "\033[0m";

std::string label(moevk_channel channel) { return std::string("[") + moevk_channel_name(channel) + "] "; }

}  // namespace

std::string ReplyView::switch_to(moevk_channel channel) {
    std::string out;
    if (started_ && channel == current_) return out;
    const bool was_aside = started_ && current_ != MOEVK_CHANNEL_FINAL;
    if (was_aside && style_ == Style::Terminal) out += kNormal;
    if (started_ && !line_start_) {
        out += '\n';
        line_start_ = true;
    }
    if (channel != MOEVK_CHANNEL_FINAL && style_ == Style::Terminal) {
        out += kFaint;
        // Analysis is the usual aside; the others say what they are.
        if (channel != MOEVK_CHANNEL_ANALYSIS) out += label(channel);
    }
    current_ = channel;
    started_ = true;
    return out;
}

std::string ReplyView::render(moevk_channel channel, std::string_view text) {
    if (!shows(channel) || text.empty()) return {};
    std::string out = switch_to(channel);
    const bool prefixed = channel != MOEVK_CHANNEL_FINAL && style_ == Style::Plain;
    for (char c : text) {
        if (prefixed && line_start_) out += label(channel);
        out += c;
        line_start_ = c == '\n';
    }
    return out;
}

std::string ReplyView::end() {
    if (started_ && current_ != MOEVK_CHANNEL_FINAL && style_ == Style::Terminal) return std::string(kNormal);
    return {};
}

}  // namespace moechat
