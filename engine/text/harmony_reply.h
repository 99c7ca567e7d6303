// A gpt-oss reply split by channel as it streams. gpt-oss writes OpenAI's harmony format: a reply
// is a run of messages, each a header and its content,
//
//   <|channel|>analysis<|message|>...reasoning...<|end|>
//   <|start|>assistant<|channel|>final<|message|>...answer...<|return|>
//
// (one string; the prompt ends with "<|start|>assistant", so the first header starts with its
// channel). A header may also name a recipient ("to=functions.get_weather", before or after the
// channel) and a content type ("<|constrain|>json"). <|end|> closes a message; <|return|> (the
// answer is done) and <|call|> (a tool call is due) close it and end the reply.
//
// HarmonyReply takes the reply's text in the pieces a generation streams it in (a tag may be
// split across pieces; text that could be the start of one is held back) and gives the content
// of each message with its channel. Tag and header text never comes out. Text where a header
// belongs is part of that header (the role section, where a recipient may stand), except when no
// tag follows it before the message or the reply ends: a reply written without harmony's tags
// is taken as the answer, whole, once it ends.
//
// It needs the tags in the text: a vocabulary's <|channel|>, <|message|>, <|start|>,
// <|constrain|> and <|end|> print as text (tokenizer.h), while <|return|> and <|call|> end
// generation and print nothing, so a generation that ends on one calls finish(End::StopToken).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moevk::text {

enum class Channel {
    Analysis,    // reasoning: not held to the answer's standards, not for users by default
    Commentary,  // tool calls, and preambles to them
    Final,       // the answer
    Other,       // a channel name harmony does not define, or none
};
const char* channel_name(Channel channel);  // "analysis", "commentary", "final", "other"

class HarmonyReply {
  public:
    struct Piece {
        Channel channel = Channel::Final;
        std::string text;  // whole UTF-8 when what was fed is
        bool operator==(const Piece&) const = default;
    };
    // How the generation ended: on a stop token (<|return|> or <|call|>, consumed without text,
    // or a stop string that is one), which closes the message in progress; or cut off (length,
    // a full context, stopped), which leaves it unfinished.
    enum class End { StopToken, Cut };

    // Adds a piece of reply text; returns the message text it settles, in order, one piece per
    // run of one channel. Nothing after <|return|> or <|call|>.
    std::vector<Piece> feed(std::string_view text);
    // The reply ended: what was held back (text that only looked like the start of a tag; a reply
    // without tags), after which feed gives nothing.
    std::vector<Piece> finish(End end);

    // A final-channel message has been closed (<|end|>, <|return|>, <|call|>, the next header, or
    // finish at a stop token): the answer is complete and nothing more is owed to the user.
    bool final_ended() const { return final_ended_; }
    // <|return|> or <|call|> came, or finish: everything after is dropped.
    bool done() const { return state_ == State::Done; }

    // The message being read, or the last one: its channel, the channel's name as written ("" for
    // a header without one) and its recipient ("" for none).
    Channel channel() const { return channel_; }
    const std::string& channel_text() const { return channel_text_; }
    const std::string& recipient() const { return recipient_; }

  private:
    enum class State { Header, Content, Done };

    void take_text(std::string_view text, std::vector<Piece>& out);
    void take_tag(std::string_view tag, std::vector<Piece>& out);
    void open_message();
    void close_message();
    bool release_untagged_header(std::vector<Piece>& out);

    State state_ = State::Header;
    std::string pending_;         // fed, not yet settled: the start of what may be a tag
    std::string header_;          // the header so far, tags included
    bool header_tagged_ = false;  // a tag opened or is in the header being read
    Channel channel_ = Channel::Other;
    std::string channel_text_, recipient_;
    bool final_ended_ = false;
};

}  // namespace moevk::text
