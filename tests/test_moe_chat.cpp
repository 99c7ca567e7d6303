// moe-chat's reply display and turn summary, no device: which channels of a reply reach stdout
// and how (the answer as is; the reasoning, with --show-reasoning, dim on a terminal and marked
// line by line in a log), including a gpt-oss reply split by the public API's HarmonyReply, as
// moe-chat streams it. Its flags and its terminal are tested by scripts/test-cli.sh.
#include <gtest/gtest.h>

#include <moevk/moevk.hpp>

#include "conversation.h"
#include "reply_view.h"

namespace moechat {
namespace {

using Style = ReplyView::Style;

// Everything a reply writes: each piece through the view, then its end.
std::string show(ReplyView view, const std::vector<std::pair<moevk_channel, std::string>>& pieces) {
    std::string out;
    for (const auto& [channel, text] : pieces) out += view.render(channel, text);
    return out + view.end();
}

const std::vector<std::pair<moevk_channel, std::string>> kReply = {
    {MOEVK_CHANNEL_ANALYSIS, "User asks 2 + 2.\nSimple"},
    {MOEVK_CHANNEL_ANALYSIS, "."},
    {MOEVK_CHANNEL_FINAL, "2 + 2 = 4."},
};

TEST(ReplyView, OnlyTheAnswerByDefault) {
    for (Style style : {Style::Terminal, Style::Plain}) {
        ReplyView view(false, style);
        EXPECT_FALSE(view.shows(MOEVK_CHANNEL_ANALYSIS));
        EXPECT_FALSE(view.shows(MOEVK_CHANNEL_COMMENTARY));
        EXPECT_TRUE(view.shows(MOEVK_CHANNEL_FINAL));
        EXPECT_EQ(show(view, kReply), "2 + 2 = 4.");
    }
}

TEST(ReplyView, ReasoningDimOnATerminal) {
    EXPECT_EQ(show(ReplyView(true, Style::Terminal), kReply),
              "\033[2mUser asks 2 + 2.\nSimple.\033[0m\n2 + 2 = 4.");
    // Reasoning that ends its line gets no second line break; a reply cut in its reasoning
    // leaves the terminal's attributes as they were.
    EXPECT_EQ(show(ReplyView(true, Style::Terminal),
                   {{MOEVK_CHANNEL_ANALYSIS, "Think.\n"}, {MOEVK_CHANNEL_FINAL, "Yes."}}),
              "\033[2mThink.\n\033[0mYes.");
    EXPECT_EQ(show(ReplyView(true, Style::Terminal), {{MOEVK_CHANNEL_ANALYSIS, "Let me"}}),
              "\033[2mLet me\033[0m");
    // Channels other than analysis say what they are.
    EXPECT_EQ(show(ReplyView(true, Style::Terminal),
                   {{MOEVK_CHANNEL_COMMENTARY, "Plan."}, {MOEVK_CHANNEL_FINAL, "Done."}}),
              "\033[2m[commentary] Plan.\033[0m\nDone.");
}

TEST(ReplyView, ReasoningMarkedLineByLineInALog) {
    EXPECT_EQ(show(ReplyView(true, Style::Plain), kReply),
              "[analysis] User asks 2 + 2.\n[analysis] Simple.\n2 + 2 = 4.");
    // An answer that comes back to reasoning starts a new marked line.
    EXPECT_EQ(show(ReplyView(true, Style::Plain), {{MOEVK_CHANNEL_FINAL, "A"},
                                                    {MOEVK_CHANNEL_OTHER, "x\n"},
                                                    {MOEVK_CHANNEL_FINAL, "B"}}),
              "A\n[other] x\nB");
    // No escape sequences in a log.
    EXPECT_EQ(show(ReplyView(true, Style::Plain), kReply).find('\033'), std::string::npos);
}

// A gpt-oss reply in the token-sized pieces a generation streams, split by the library and shown
// as moe-chat shows it.
TEST(ReplyView, HarmonyReplyAsMoeChatShowsIt) {
    const std::vector<std::string> streamed = {
        "<|channel|>", "analysis", "<|message|>", "User", " asks", ".", "<|end|>", "<|start|>",
        "assistant",   "<|channel|>", "final",    "<|message|>", "Four", "."};
    for (bool reasoning : {false, true}) {
        moevk::HarmonyReply split;
        ReplyView view(reasoning, Style::Plain);
        std::string out, answer;
        auto take = [&](const std::vector<moevk::HarmonyReply::Piece>& pieces) {
            for (const moevk::HarmonyReply::Piece& p : pieces) {
                out += view.render(p.channel, p.text);
                if (p.channel == MOEVK_CHANNEL_FINAL) answer += p.text;
            }
        };
        for (const std::string& piece : streamed) take(split.feed(piece));
        take(split.finish(MOEVK_END_EOG));
        out += view.end();
        EXPECT_EQ(out, reasoning ? "[analysis] User asks.\nFour." : "Four.");
        EXPECT_EQ(answer, "Four.") << "what joins the conversation";
        EXPECT_TRUE(split.final_ended());
    }
}

TEST(Turn, HarmonyTemplateAndTheEndOfTheAnswer) {
    EXPECT_TRUE(is_harmony_template("gpt-oss"));
    EXPECT_FALSE(is_harmony_template("chatml"));
    EXPECT_FALSE(is_harmony_template(""));
    Turn t;
    t.generation.end = MOEVK_END_STOPPED;
    EXPECT_NE(describe_turn(t).find("ended by stopped]"), std::string::npos) << describe_turn(t);
    t.answer_closed = true;
    EXPECT_NE(describe_turn(t).find("ended by the end of the answer]"), std::string::npos) << describe_turn(t);
}

}  // namespace
}  // namespace moechat
