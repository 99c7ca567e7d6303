// Stop strings over streamed pieces, no GPU: a stop string split across pieces, false starts,
// several stop strings, UTF-8 held back until complete, and random splits of random text
// against a plain search of the whole text.
#include <gtest/gtest.h>

#include <random>

#include "gpu/error.h"
#include "text/stop_matcher.h"

namespace moevk::text {
namespace {

// Feeds `pieces` and returns everything released, and the stop string that ended it.
std::pair<std::string, std::string> run(StopMatcher& m, const std::vector<std::string>& pieces) {
    std::string shown, stop;
    for (const std::string& p : pieces) {
        StopMatcher::Step s = m.feed(p);
        shown += s.text;
        if (s.stopped) stop = s.stop;
    }
    if (!m.stopped()) shown += m.flush();
    return {shown, stop};
}

TEST(StopMatcher, StopSplitAcrossPieces) {
    StopMatcher m({"<|im_end|>"});
    StopMatcher::Step a = m.feed("Hello <|im");
    EXPECT_EQ(a.text, "Hello ");
    EXPECT_FALSE(a.stopped);
    StopMatcher::Step b = m.feed("_e");
    EXPECT_EQ(b.text, "");
    EXPECT_FALSE(b.stopped);
    StopMatcher::Step c = m.feed("nd|>\nmore text");
    EXPECT_EQ(c.text, "");
    EXPECT_TRUE(c.stopped);
    EXPECT_EQ(c.stop, "<|im_end|>");
    EXPECT_TRUE(m.stopped());
    // Nothing after the stop comes out.
    EXPECT_EQ(m.feed("even more").text, "");
    EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, TextBeforeTheStopInTheSamePiece) {
    StopMatcher m({"</s>"});
    EXPECT_EQ(m.feed("Sure").text, "Sure");
    StopMatcher::Step s = m.feed(", done.</s><s>");
    EXPECT_EQ(s.text, ", done.");
    EXPECT_TRUE(s.stopped);
}

TEST(StopMatcher, FalseStartIsReleased) {
    StopMatcher m({"<|im_end|>"});
    EXPECT_EQ(m.feed("a <").text, "a ");
    EXPECT_EQ(m.feed("|im").text, "");
    EXPECT_EQ(m.feed("ported>").text, "<|imported>");
    EXPECT_EQ(m.feed("<|im_e").text, "");
    EXPECT_EQ(m.flush(), "<|im_e");  // the end of generation releases a partial match
}

TEST(StopMatcher, EarliestStopWins) {
    StopMatcher m({"END", "STOP"});
    auto [shown, stop] = run(m, {"xS", "TOPy", "END"});
    EXPECT_EQ(shown, "x");
    EXPECT_EQ(stop, "STOP");

    // One character at a time, with a prefix of one stop string inside another's.
    StopMatcher n({"<|eot_id|>", "<|start_header_id|>"});
    std::vector<std::string> chars;
    for (char c : std::string("ok<|<|start_header_id|>assistant")) chars.emplace_back(1, c);
    auto [shown2, stop2] = run(n, chars);
    EXPECT_EQ(shown2, "ok<|");
    EXPECT_EQ(stop2, "<|start_header_id|>");
}

TEST(StopMatcher, Utf8IsHeldUntilComplete) {
    StopMatcher m({});
    EXPECT_EQ(m.feed("caf\xC3").text, "caf");
    EXPECT_EQ(m.feed("\xA9 \xE2\x82").text, "\xC3\xA9 ");
    EXPECT_EQ(m.feed("\xAC!").text, "\xE2\x82\xAC!");
    EXPECT_EQ(m.feed("\xF0\x9F\x98").text, "");
    EXPECT_EQ(m.feed("\x80").text, "\xF0\x9F\x98\x80");
}

TEST(StopMatcher, ResetAndErrors) {
    StopMatcher m({"##"});
    EXPECT_TRUE(m.feed("a##b").stopped);
    m.reset();
    EXPECT_FALSE(m.stopped());
    EXPECT_EQ(m.feed("c#").text, "c");
    EXPECT_EQ(m.feed("d").text, "#d");
    try {
        StopMatcher bad({"ok", ""});
        ADD_FAILURE() << "an empty stop string was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("stop string 1"), std::string::npos) << e.what();
    }
}

// Random texts over a small alphabet (so stop strings and near misses are common), cut at random
// places: what comes out must be the text up to the first stop string, whole.
TEST(StopMatcher, RandomSplitsMatchASearchOfTheWholeText) {
    std::mt19937 rng(5);
    const std::vector<std::string> stops{"abc", "bca", "cc", "<|x|>"};
    const std::string alphabet = "abc<|x>";
    for (int trial = 0; trial < 2000; ++trial) {
        std::string text;
        int length = std::uniform_int_distribution<int>(0, 30)(rng);
        for (int i = 0; i < length; ++i)
            text += alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
        size_t first = std::string::npos;
        for (const std::string& s : stops) first = std::min(first, text.find(s));
        // The matcher stops at the first stop string to complete, the search finds the first to
        // start: the same one, as no stop string here lies inside another.
        std::vector<std::string> pieces;
        for (size_t at = 0; at < text.size();) {
            size_t n = std::uniform_int_distribution<size_t>(1, 4)(rng);
            pieces.push_back(text.substr(at, n));
            at += n;
        }
        StopMatcher m(stops);
        auto [shown, stop] = run(m, pieces);
        std::string want = first == std::string::npos ? text : text.substr(0, first);
        ASSERT_EQ(shown, want) << "text \"" << text << "\" trial " << trial;
        EXPECT_EQ(stop.empty(), first == std::string::npos);
    }
}

}  // namespace
}  // namespace moevk::text
