#include "text/harmony_reply.h"

namespace moevk::text {

namespace {

// harmony's tags, as a vocabulary spells them. Other "<|...|>" text is content.
constexpr std::string_view kStart = "<|start|>", kEnd = "<|end|>", kMessage = "<|message|>",
                           kChannel = "<|channel|>", kConstrain = "<|constrain|>",
                           kReturn = "<|return|>", kCall = "<|call|>";
constexpr std::string_view kTags[] = {kStart, kEnd, kMessage, kChannel, kConstrain, kReturn, kCall};

enum class Match { None, Partial, Whole };

// Whether `s` (starting at a '<') starts with a tag, or is all of it the start of one.
Match match_tag(std::string_view s, std::string_view& tag) {
    for (std::string_view t : kTags) {
        if (s.starts_with(t)) {
            tag = t;
            return Match::Whole;
        }
    }
    for (std::string_view t : kTags)
        if (t.starts_with(s)) return Match::Partial;
    return Match::None;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The word at the start of `s`: up to white space or a tag.
std::string_view word_at(std::string_view s) {
    size_t n = 0;
    while (n < s.size() && !is_space(s[n]) && s[n] != '<') ++n;
    return s.substr(0, n);
}

Channel channel_of(std::string_view name) {
    if (name == "analysis") return Channel::Analysis;
    if (name == "commentary") return Channel::Commentary;
    if (name == "final") return Channel::Final;
    return Channel::Other;
}

}  // namespace

const char* channel_name(Channel channel) {
    switch (channel) {
        case Channel::Analysis:
            return "analysis";
        case Channel::Commentary:
            return "commentary";
        case Channel::Final:
            return "final";
        case Channel::Other:
            return "other";
    }
    return "other";
}

std::vector<HarmonyReply::Piece> HarmonyReply::feed(std::string_view text) {
    std::vector<Piece> out;
    if (state_ == State::Done) return out;
    pending_ += text;
    size_t settled = 0;  // pending_ before this is taken
    size_t at = 0;       // where to look for the next '<'
    while (state_ != State::Done) {
        const size_t lt = pending_.find('<', at);
        if (lt == std::string::npos) {
            take_text(std::string_view(pending_).substr(settled), out);
            settled = pending_.size();
            break;
        }
        std::string_view tag;
        Match m = match_tag(std::string_view(pending_).substr(lt), tag);
        if (m == Match::None) {
            at = lt + 1;
            continue;
        }
        take_text(std::string_view(pending_).substr(settled, lt - settled), out);
        settled = lt;
        if (m == Match::Partial) break;  // the rest waits for the next piece
        settled = at = lt + tag.size();
        take_tag(tag, out);
    }
    if (state_ == State::Done)
        pending_.clear();
    else
        pending_.erase(0, settled);
    return out;
}

std::vector<HarmonyReply::Piece> HarmonyReply::finish(End end) {
    std::vector<Piece> out;
    if (state_ == State::Done) return out;
    // What is held back never became a tag.
    take_text(pending_, out);
    pending_.clear();
    const bool in_message = state_ == State::Content || release_untagged_header(out);
    if (in_message && end == End::StopToken) close_message();
    state_ = State::Done;
    return out;
}

void HarmonyReply::take_text(std::string_view text, std::vector<Piece>& out) {
    if (text.empty()) return;
    if (state_ == State::Header) {
        header_ += text;
    } else if (state_ == State::Content) {
        if (out.empty() || out.back().channel != channel_) out.push_back({channel_, {}});
        out.back().text += text;
    }
}

void HarmonyReply::take_tag(std::string_view tag, std::vector<Piece>& out) {
    const bool closes = tag == kEnd || tag == kReturn || tag == kCall;
    if (state_ == State::Header) {
        if (tag == kMessage) {
            open_message();
        } else if (tag == kStart) {
            header_.clear();  // a header cut short by another: the new one counts
            header_tagged_ = true;
        } else if (tag == kChannel || tag == kConstrain) {
            header_ += tag;
            header_tagged_ = true;
        } else if (closes) {
            if (release_untagged_header(out)) close_message();
            header_.clear();
            header_tagged_ = false;
        }
    } else {  // Content
        if (closes || tag == kStart || tag == kChannel) {
            close_message();
            state_ = State::Header;
            // <|start|> and <|channel|> open the next header (the model left out <|end|>, or
            // <|end|><|start|>assistant); after a close, text may yet be a header or untagged.
            header_ = tag == kChannel ? std::string(tag) : std::string();
            header_tagged_ = !closes;
        }
        // <|message|> and <|constrain|> inside content are dropped: tag text never shows.
    }
    if (tag == kReturn || tag == kCall) state_ = State::Done;
}

// The header is read at <|message|>: the channel follows <|channel|>; a recipient follows "to=",
// in the role or the channel section.
void HarmonyReply::open_message() {
    std::string_view h = header_;
    channel_text_.clear();
    recipient_.clear();
    if (size_t c = h.rfind(kChannel); c != std::string_view::npos)
        channel_text_ = word_at(h.substr(c + kChannel.size()));
    for (size_t to = h.find("to="); to != std::string_view::npos; to = h.find("to=", to + 1)) {
        if (to == 0 || is_space(h[to - 1]) || h[to - 1] == '>') {
            recipient_ = word_at(h.substr(to + 3));
            break;
        }
    }
    channel_ = channel_of(channel_text_);
    state_ = State::Content;
    header_.clear();
}

void HarmonyReply::close_message() {
    if (channel_ == Channel::Final) final_ended_ = true;
}

// Text where a header belongs with no tag in or before it: a message written without a header.
// It is the answer; true when there was such text.
bool HarmonyReply::release_untagged_header(std::vector<Piece>& out) {
    if (header_tagged_ || header_.empty()) return false;
    channel_ = Channel::Final;
    channel_text_.clear();
    recipient_.clear();
    out.push_back({Channel::Final, std::move(header_)});
    header_.clear();
    return true;
}

}  // namespace moevk::text
