#include "text/stop_matcher.h"

#include <algorithm>
#include <cstdint>

#include "gpu/error.h"

namespace moevk::text {
namespace {

// Bytes at the end of `s` that begin a UTF-8 sequence the text does not yet complete.
size_t incomplete_utf8_tail(std::string_view s) {
    for (size_t back = 1; back <= std::min<size_t>(3, s.size()); ++back) {
        uint8_t b = static_cast<uint8_t>(s[s.size() - back]);
        if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further back
        size_t need = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
    for (size_t i = 0; i < stops_.size(); ++i)
        if (stops_[i].empty())
            throw Error(ErrorCode::InvalidArgument, "stop string " + std::to_string(i) +
                                                        " is empty (it would match everywhere)");
}

// The longest suffix of pending_ that is a proper prefix of some stop string: a stop string that
// will complete later must start there or later, so releasing the text before it is safe.
size_t StopMatcher::held_suffix() const {
    size_t held = 0;
    for (const std::string& stop : stops_) {
        size_t longest = std::min(stop.size() - 1, pending_.size());
        for (size_t n = longest; n > held; --n) {
            if (pending_.compare(pending_.size() - n, n, stop, 0, n) == 0) {
                held = n;
                break;
            }
        }
    }
    return held;
}

StopMatcher::Step StopMatcher::feed(std::string_view piece) {
    Step step;
    if (stopped_) return step;
    pending_ += piece;

    // The earliest stop string in the text wins; of two starting at one place, the first listed.
    size_t first = std::string::npos;
    const std::string* which = nullptr;
    for (const std::string& stop : stops_) {
        size_t at = pending_.find(stop);
        if (at < first) {
            first = at;
            which = &stop;
        }
    }
    if (which) {
        step.text = pending_.substr(0, first);
        step.stopped = true;
        step.stop = *which;
        stopped_ = true;
        pending_.clear();
        return step;
    }

    size_t keep = std::max(held_suffix(), incomplete_utf8_tail(pending_));
    step.text = pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    return step;
}

std::string StopMatcher::flush() {
    std::string rest;
    rest.swap(pending_);
    return stopped_ ? std::string() : rest;
}

void StopMatcher::reset() {
    pending_.clear();
    stopped_ = false;
}

}  // namespace moevk::text
