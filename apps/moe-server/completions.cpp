#include "completions.h"

#include <chrono>
#include <memory>

#include "openai.h"
#include "request_log.h"

namespace moeserver {

namespace {

// How long the provider waits for text before it looks at the connection again.
constexpr auto kPollInterval = std::chrono::milliseconds(50);

// One reply in progress, shared by the content provider's calls and its releaser.
struct Reply {
    std::shared_ptr<Job> job;
    openai::ReplyHeader header;
    bool stream = false, include_usage = false;
    bool began = false;
    std::string text;  // the whole reply, without streaming
};

bool write(httplib::DataSink& sink, const std::string& s) {
    return sink.write(s.data(), s.size());
}

// The client has gone: stop its generation (the scheduler sees it before its next step) and
// say so in the log line, which is written before the releaser runs.
bool gone(Reply& r) {
    r.job->channel.cancel();
    Outcome o;
    o.finish = Finish::Cancelled;
    request_log::note(o);
    return false;
}

// One call of the content provider: false ends the response (the client is gone, or the job
// was cancelled), true with sink.done() when the reply is complete.
bool provide_or_throw(Reply& r, httplib::DataSink& sink) {
    if (r.stream && !r.began &&
        !write(sink, openai::event(openai::first_chunk(r.header, r.include_usage))))
        return gone(r);
    r.began = true;
    std::vector<std::string> texts;
    std::optional<Outcome> outcome = r.job->channel.take(texts, kPollInterval);
    for (const std::string& t : texts) {
        if (!r.stream)
            r.text += t;
        else if (!write(sink, openai::event(openai::text_chunk(r.header, t, r.include_usage))))
            return gone(r);
    }
    if (!outcome)
        return sink.is_writable() || gone(r);  // not writable: the client closed the connection
    request_log::note(*outcome);
    if (outcome->finish == Finish::Cancelled) return false;
    bool ok = true;
    if (outcome->finish == Finish::Error) {
        // The status line has gone out already: the error comes as the body (or an event).
        openai::json e = openai::error("the generation failed: " + outcome->error, "server_error");
        ok = write(sink, r.stream ? openai::event(e) : openai::dump(e));
    } else if (r.stream) {
        ok = write(sink,
                   openai::event(openai::final_chunk(r.header, outcome->finish, r.include_usage)));
        if (ok && r.include_usage)
            ok = write(sink, openai::event(openai::usage_chunk(r.header, *outcome)));
    } else {
        ok = write(sink, openai::dump(openai::completion(r.header, r.text, *outcome)));
    }
    if (ok && r.stream) ok = write(sink, "data: [DONE]\n\n");
    if (ok) sink.done();
    return ok;
}

// httplib runs the provider outside its handlers' exception guard: nothing may escape it.
bool provide(Reply& r, httplib::DataSink& sink) {
    try {
        return provide_or_throw(r, sink);
    } catch (const std::exception&) {
        return gone(r);
    }
}

}  // namespace

void handle_completion(const httplib::Request& req, httplib::Response& res, ServerContext& ctx,
                       bool chat) {
    ParsedRequest parsed = chat ? parse_chat_request(req.body, ctx.defaults)
                                : parse_completion_request(req.body, ctx.defaults);
    auto job = std::make_shared<Job>();
    job->input = make_job_input(parsed, ctx.tokenizer, ctx.defaults);
    if (!ctx.scheduler.submit(job)) {
        // A retry soon is likely to find room: a slot frees with every finished reply.
        res.set_header("Retry-After", "1");
        throw BadRequest("the server is busy: all " + std::to_string(ctx.scheduler.slots()) +
                             " slots are generating and " + std::to_string(ctx.queue_limit) +
                             " requests are waiting; retry shortly",
                         "", "server_busy", 503);
    }
    auto reply = std::make_shared<Reply>();
    reply->job = job;
    reply->header = openai::new_reply(chat, ctx.model_id);
    reply->stream = parsed.stream;
    reply->include_usage = parsed.include_usage;
    if (parsed.stream) {
        res.set_header("Cache-Control", "no-cache");
        res.set_header("X-Accel-Buffering",
                       "no");  // a proxy in front must not hold the events back
    }
    // "text/event-stream" exactly: httplib never compresses that type, so events are not held
    // in a compressor's buffer.
    res.set_chunked_content_provider(
        parsed.stream ? "text/event-stream" : "application/json",
        [reply](size_t, httplib::DataSink& sink) { return provide(*reply, sink); },
        // Runs however the response ends; unless it completed, the client is gone: stop.
        [reply](bool success) {
            if (!success) reply->job->channel.cancel();
        });
}

}  // namespace moeserver
