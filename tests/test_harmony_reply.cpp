// gpt-oss replies split by channel, no GPU: the harmony document's examples, every tag split
// across every piece boundary, commentary with recipients, replies that end without <|return|>,
// empty and unknown channels, text where a header belongs, and random replies in random pieces
// against the text each message was built from.
#include <gtest/gtest.h>

#include <random>

#include "text/harmony_reply.h"

namespace moevk::text {

void PrintTo(const HarmonyReply::Piece& p, std::ostream* os) {
    *os << channel_name(p.channel) << ":\"" << p.text << "\"";
}

namespace {

using Pieces = std::vector<HarmonyReply::Piece>;
using End = HarmonyReply::End;

constexpr std::string_view kTags[] = {"<|start|>",     "<|end|>",    "<|message|>", "<|channel|>",
                                      "<|constrain|>", "<|return|>", "<|call|>"};

// Appends `more`, joining a piece to the last one when they are of one channel: how pieces are
// cut is not part of what is checked.
void append(Pieces& all, const Pieces& more) {
    for (const HarmonyReply::Piece& p : more) {
        EXPECT_FALSE(p.text.empty());
        for (std::string_view tag : kTags)
            EXPECT_EQ(p.text.find(tag), std::string::npos) << "tag text shown: " << p.text;
        if (!all.empty() && all.back().channel == p.channel)
            all.back().text += p.text;
        else
            all.push_back(p);
    }
}

// Feeds the pieces, then finishes.
Pieces run(HarmonyReply& r, const std::vector<std::string>& pieces, End end = End::StopToken) {
    Pieces all;
    for (const std::string& p : pieces) append(all, r.feed(p));
    append(all, r.finish(end));
    return all;
}

Pieces run_whole(const std::string& reply, End end = End::StopToken) {
    HarmonyReply r;
    return run(r, {reply}, end);
}

// The harmony document's reply to "What is 2 + 2?". The generator gives no text for the
// <|return|> that ends it (a stop token), so it is not part of the text.
const std::string kReasoned =
    "<|channel|>analysis<|message|>User asks: \"What is 2 + 2?\" Simple arithmetic. Provide "
    "answer.<|end|><|start|>assistant<|channel|>final<|message|>2 + 2 = 4.";
const Pieces kReasonedPieces = {
    {Channel::Analysis, "User asks: \"What is 2 + 2?\" Simple arithmetic. Provide answer."},
    {Channel::Final, "2 + 2 = 4."}};

TEST(HarmonyReply, AnalysisThenFinal) {
    HarmonyReply r;
    EXPECT_EQ(run(r, {kReasoned}), kReasonedPieces);
    EXPECT_TRUE(r.final_ended());
    EXPECT_TRUE(r.done());
    EXPECT_EQ(r.channel(), Channel::Final);
    EXPECT_EQ(r.channel_text(), "final");
    EXPECT_EQ(r.recipient(), "");
}

TEST(HarmonyReply, ReturnAsText) {
    // Where <|return|> is text (a host rendering special tokens), it ends the reply there.
    HarmonyReply r;
    Pieces got;
    append(got, r.feed(kReasoned + "<|return|>"));
    EXPECT_TRUE(r.done());
    EXPECT_TRUE(r.final_ended());
    EXPECT_TRUE(r.feed("more text").empty());
    EXPECT_TRUE(r.finish(End::Cut).empty());
    EXPECT_EQ(got, kReasonedPieces);
    // Text after it in the same piece is dropped too.
    EXPECT_EQ(run_whole("<|channel|>final<|message|>Hi<|return|><|start|>user"),
              (Pieces{{Channel::Final, "Hi"}}));
}

TEST(HarmonyReply, EveryTwoAndThreePieceSplit) {
    const std::string& s = kReasoned;
    for (size_t i = 0; i <= s.size(); ++i) {
        HarmonyReply r;
        ASSERT_EQ(run(r, {s.substr(0, i), s.substr(i)}), kReasonedPieces) << "split at " << i;
        ASSERT_TRUE(r.final_ended());
        for (size_t j = i; j <= s.size(); ++j) {
            HarmonyReply r3;
            ASSERT_EQ(run(r3, {s.substr(0, i), s.substr(i, j - i), s.substr(j)}), kReasonedPieces)
                << "split at " << i << " and " << j;
        }
    }
}

TEST(HarmonyReply, ByteByByteReleasesTextWhenSettled) {
    HarmonyReply r;
    Pieces got;
    const std::string reply = kReasoned + "<|return|>";
    for (size_t i = 0; i < reply.size(); ++i) {
        append(got, r.feed(reply.substr(i, 1)));
        // The answer is out as soon as its last character is in: it cannot start a tag.
        if (i + 1 == kReasoned.size()) {
            EXPECT_EQ(got, kReasonedPieces);
        }
        // A '<' is held until the next bytes settle it.
        if (reply[i] == '<') {
            EXPECT_TRUE(r.feed("").empty());
        }
    }
    EXPECT_TRUE(r.done());
    EXPECT_EQ(got, kReasonedPieces);
}

TEST(HarmonyReply, ToolCallOnCommentary) {
    // The document's function call: recipient after the channel, a content type, ended by
    // <|call|> (here as text).
    HarmonyReply r;
    Pieces got = run(r, {"<|channel|>analysis<|message|>Need to use function get_weather.<|end|>"
                         "<|start|>assistant<|channel|>commentary to=functions.get_weather "
                         "<|constrain|>json<|message|>{\"location\":\"San Francisco\"}<|call|>"});
    EXPECT_EQ(got, (Pieces{{Channel::Analysis, "Need to use function get_weather."},
                           {Channel::Commentary, "{\"location\":\"San Francisco\"}"}}));
    EXPECT_EQ(r.channel(), Channel::Commentary);
    EXPECT_EQ(r.recipient(), "functions.get_weather");
    EXPECT_TRUE(r.done());
    EXPECT_FALSE(r.final_ended());

    // The recipient in the role section, before the channel, and a content type right after the
    // recipient without a space.
    HarmonyReply role;
    EXPECT_EQ(run(role,
                  {"<|start|>assistant to=functions.lookup<|channel|>commentary"
                   "<|constrain|>json<|message|>{}"},
                  End::StopToken),
              (Pieces{{Channel::Commentary, "{}"}}));
    EXPECT_EQ(role.recipient(), "functions.lookup");
    EXPECT_EQ(role.channel_text(), "commentary");
}

TEST(HarmonyReply, PreambleThenFinal) {
    EXPECT_EQ(run_whole("<|channel|>analysis<|message|>plan<|end|><|start|>assistant<|channel|>"
                        "commentary<|message|>**Action plan**: one, two.<|end|><|start|>assistant"
                        "<|channel|>final<|message|>Done."),
              (Pieces{{Channel::Analysis, "plan"},
                      {Channel::Commentary, "**Action plan**: one, two."},
                      {Channel::Final, "Done."}}));
}

TEST(HarmonyReply, EndsWithoutReturn) {
    // Cut by the length limit in the answer: what came is shown, the answer did not end.
    HarmonyReply cut;
    EXPECT_EQ(run(cut, {"<|channel|>final<|message|>The answer is"}, End::Cut),
              (Pieces{{Channel::Final, "The answer is"}}));
    EXPECT_FALSE(cut.final_ended());
    EXPECT_TRUE(cut.done());
    // Cut in the reasoning: no answer at all.
    HarmonyReply thinking;
    EXPECT_EQ(run(thinking, {"<|channel|>analysis<|message|>Let me"}, End::Cut),
              (Pieces{{Channel::Analysis, "Let me"}}));
    EXPECT_FALSE(thinking.final_ended());
    // Cut inside a header: nothing of it shows.
    HarmonyReply header;
    EXPECT_EQ(
        run(header, {"<|channel|>analysis<|message|>x<|end|><|start|>assistant<|chan"}, End::Cut),
        (Pieces{{Channel::Analysis, "x"}}));
    // Held text that never became a tag comes out at the end.
    EXPECT_EQ(run_whole("<|channel|>final<|message|>a <|ret", End::Cut),
              (Pieces{{Channel::Final, "a <|ret"}}));
    // A stop token in the reasoning closes it without an answer.
    HarmonyReply eog;
    run(eog, {"<|channel|>analysis<|message|>hmm"}, End::StopToken);
    EXPECT_FALSE(eog.final_ended());
}

TEST(HarmonyReply, FinalClosedByEnd) {
    // A final message closed by <|end|> rather than <|return|>: the answer is complete, though
    // the generation goes on (the caller may stop it).
    HarmonyReply r;
    Pieces got;
    append(got, r.feed("<|channel|>final<|message|>Yes.<|end|>"));
    EXPECT_TRUE(r.final_ended());
    EXPECT_FALSE(r.done());
    append(got, r.feed("<|start|>assistant<|channel|>analysis<|message|>more"));
    EXPECT_EQ(got, (Pieces{{Channel::Final, "Yes."}, {Channel::Analysis, "more"}}));
}

TEST(HarmonyReply, EmptyAnalysis) {
    HarmonyReply r;
    EXPECT_EQ(run(r, {"<|channel|>analysis<|message|><|end|><|start|>assistant<|channel|>final"
                      "<|message|>Hi"}),
              (Pieces{{Channel::Final, "Hi"}}));
    EXPECT_TRUE(r.final_ended());
    // An empty answer is still an answer that ended.
    HarmonyReply empty;
    EXPECT_EQ(run(empty, {"<|channel|>final<|message|><|return|>"}), Pieces{});
    EXPECT_TRUE(empty.final_ended());
}

TEST(HarmonyReply, UnknownAndMissingChannels) {
    HarmonyReply r;
    Pieces got;
    append(got, r.feed("<|channel|>scratchpad<|message|>notes<|end|>"));
    EXPECT_EQ(r.channel(), Channel::Other);
    EXPECT_EQ(r.channel_text(), "scratchpad");
    append(got, r.feed("<|start|>assistant<|message|>no channel<|end|>"));
    EXPECT_EQ(r.channel(), Channel::Other);
    EXPECT_EQ(r.channel_text(), "");
    append(got, r.feed("<|start|>assistant<|channel|>final<|message|>ok"));
    append(got, r.finish(End::StopToken));
    // Two messages of one channel join here only because append() joins pieces.
    EXPECT_EQ(got, (Pieces{{Channel::Other, "notesno channel"}, {Channel::Final, "ok"}}));
    // A channel name is one word: what follows it is the rest of the header.
    HarmonyReply spaced;
    spaced.feed("<|channel|>final extra<|message|>x");
    EXPECT_EQ(spaced.channel(), Channel::Final);
    EXPECT_EQ(spaced.channel_text(), "final");
}

TEST(HarmonyReply, TextWhereAHeaderBelongs) {
    // Text before the first tag is the role section of the first header: not shown.
    EXPECT_EQ(run_whole("Hmm<|channel|>final<|message|>Hi"), (Pieces{{Channel::Final, "Hi"}}));
    EXPECT_EQ(run_whole("\n<|channel|>analysis<|message|>a<|end|>\n<|start|>assistant<|channel|>"
                        "final<|message|>b"),
              (Pieces{{Channel::Analysis, "a"}, {Channel::Final, "b"}}));
    // A reply with no tags at all is the answer, given whole once it ends.
    HarmonyReply plain;
    EXPECT_TRUE(plain.feed("Just an ").empty());
    EXPECT_TRUE(plain.feed("answer.").empty());
    Pieces got;
    append(got, plain.finish(End::StopToken));
    EXPECT_EQ(got, (Pieces{{Channel::Final, "Just an answer."}}));
    EXPECT_TRUE(plain.final_ended());
    HarmonyReply cut;
    EXPECT_EQ(run(cut, {"Just an"}, End::Cut), (Pieces{{Channel::Final, "Just an"}}));
    EXPECT_FALSE(cut.final_ended());
    // After a message, text with no header before the reply's end is the answer too.
    EXPECT_EQ(run_whole("<|channel|>analysis<|message|>a<|end|>The answer<|return|>"),
              (Pieces{{Channel::Analysis, "a"}, {Channel::Final, "The answer"}}));
    // But a header that <|start|> opened is a header, however it ends.
    EXPECT_EQ(run_whole("<|channel|>analysis<|message|>a<|end|><|start|>assistant", End::Cut),
              (Pieces{{Channel::Analysis, "a"}}));
}

TEST(HarmonyReply, LenientTags) {
    // <|end|><|start|>assistant left out before the next channel; a stray <|message|> in content.
    EXPECT_EQ(run_whole("<|channel|>analysis<|message|>think<|channel|>final<|message|>an"
                        "<|message|>swer"),
              (Pieces{{Channel::Analysis, "think"}, {Channel::Final, "answer"}}));
    // <|start|> without <|end|> closes the message before it.
    HarmonyReply r;
    run(r, {"<|channel|>final<|message|>a<|start|>assistant<|channel|>analysis<|message|>b"},
        End::Cut);
    EXPECT_TRUE(r.final_ended());
}

TEST(HarmonyReply, TagLikeContentIsText) {
    const std::string content = "a < b, x <| y, <|im_start|>, <|endoftext|>, <|end, |>, <";
    HarmonyReply r;
    Pieces got = run(r, {"<|channel|>final<|message|>" + content}, End::Cut);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].text, content);
}

TEST(HarmonyReply, Utf8StaysWhole) {
    // Cuts fall only before '<', so pieces of whole characters give whole characters.
    HarmonyReply r;
    Pieces got;
    for (const char* p : {"<|channel|>final<|message|>", "caf\xC3\xA9", " \xE2\x9C\x93<", "|end|>"})
        append(got, r.feed(p));
    EXPECT_EQ(got, (Pieces{{Channel::Final, "caf\xC3\xA9 \xE2\x9C\x93"}}));
}

// Random replies: messages on random channels with content drawn from characters that make
// false starts of tags (and cannot spell a tag's name), fed in random pieces; the pieces must be
// each message's content, in order, by channel.
TEST(HarmonyReply, RandomRepliesInRandomPieces) {
    std::mt19937 rng(7);
    const std::vector<std::string> channels = {"analysis", "commentary", "final", "notes"};
    const std::string alphabet = "ab <|>\n";
    for (int trial = 0; trial < 2000; ++trial) {
        std::string reply;
        Pieces expected;
        const int messages = 1 + int(rng() % 4);
        for (int m = 0; m < messages; ++m) {
            const std::string& ch = channels[rng() % channels.size()];
            std::string content;
            for (int n = int(rng() % 12); n > 0; --n) content += alphabet[rng() % alphabet.size()];
            reply += (m == 0 ? "" : "<|start|>assistant") + std::string("<|channel|>") + ch +
                     (rng() % 2 ? " to=functions.f" : "") + "<|message|>" + content;
            reply += m + 1 < messages ? "<|end|>" : "";
            Channel c = ch == "notes"        ? Channel::Other
                        : ch == "analysis"   ? Channel::Analysis
                        : ch == "commentary" ? Channel::Commentary
                                             : Channel::Final;
            if (!content.empty()) append(expected, {{c, content}});
        }
        std::vector<std::string> pieces;
        for (size_t at = 0; at < reply.size();) {
            size_t n = std::min<size_t>(reply.size() - at, rng() % 6);
            pieces.push_back(reply.substr(at, n));
            at += n;
        }
        HarmonyReply r;
        ASSERT_EQ(run(r, pieces), expected) << reply;
    }
}

}  // namespace
}  // namespace moevk::text
