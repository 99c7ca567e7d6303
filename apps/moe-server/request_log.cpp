#include "request_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>

namespace moeserver::request_log {

namespace {

struct Entry {
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    std::optional<Outcome> outcome;
};
thread_local Entry t_entry;

const char* finish_name(Finish f) {
    switch (f) {
        case Finish::Stop:
            return "stop";
        case Finish::Length:
            return "length";
        case Finish::Cancelled:
            return "cancelled (client gone)";
        default:
            return "error";
    }
}

}  // namespace

void begin() {
    t_entry = Entry{};
}

void note(const Outcome& outcome) {
    t_entry.outcome = outcome;
}

void write(const httplib::Request& req, const httplib::Response& res) {
    double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_entry.start)
            .count();
    std::time_t now = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    std::string extra;
    if (const auto& o = t_entry.outcome; o && o->finish == Finish::Cancelled) {
        extra = " finish cancelled (client gone)";  // the figures of a cut reply are not known here
    } else if (o) {
        char buf[256];
        std::snprintf(buf, sizeof buf, " prompt %u (cached %u) completion %u finish %s",
                      o->prompt_tokens, o->cached_tokens, o->completion_tokens,
                      finish_name(o->finish));
        extra = buf;
        if (o->finish == Finish::Error) extra += ": " + o->error;
    }
    // The path only: a query string could carry what a client did not mean to have logged.
    std::fprintf(stderr, "%s %s:%d %s %s %d %.0f ms%s\n", when, req.remote_addr.c_str(),
                 req.remote_port, req.method.c_str(), req.path.c_str(), res.status, ms,
                 extra.c_str());
    t_entry = Entry{};  // a request refused before routing (413) times from here
}

}  // namespace moeserver::request_log
