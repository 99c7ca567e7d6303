// Stop strings over streamed text. Generated text arrives in pieces (one token's text at a time)
// and a stop string may be split across pieces, so text that could be the start of a stop string
// is held back until the next pieces settle it; a trailing incomplete UTF-8 sequence is held back
// too, so what is released can always be shown.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moevk::text {

class StopMatcher {
public:
    struct Step {
        std::string text;  // safe to show now
        bool stopped = false;
        std::string stop;  // the stop string that completed (not part of `text`)
    };

    // Error(InvalidArgument) for an empty stop string. No stop strings: everything passes.
    explicit StopMatcher(std::vector<std::string> stops);

    // Adds a piece. When a stop string completes, `text` ends just before it, `stopped` is set,
    // and everything after it is dropped; later calls return nothing.
    Step feed(std::string_view piece);
    // End of generation without a stop: whatever was held back.
    std::string flush();

    bool stopped() const { return stopped_; }
    // Starts over for a new reply, with the same stop strings.
    void reset();

private:
    size_t held_suffix() const;

    std::vector<std::string> stops_;
    std::string pending_;  // received, not yet released
    bool stopped_ = false;
};

}  // namespace moevk::text
