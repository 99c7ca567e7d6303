// The JSON shapes of OpenAI's API that moe-server answers with: completions and their stream
// chunks, usage, model lists and error objects, as the API reference documents them, so that
// unmodified clients (the official SDKs) read them.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "job.h"

namespace moeserver::openai {

using nlohmann::json;

// What every object of one reply repeats: its id ("chatcmpl-..." or "cmpl-..."), creation
// time (Unix seconds) and the model's name.
struct ReplyHeader {
    bool chat = true;
    std::string id;
    int64_t created = 0;
    std::string model;
};
ReplyHeader new_reply(bool chat, const std::string& model);

// {"error": {"message", "type", "param", "code"}}; an empty param or code is null.
json error(const std::string& message, const std::string& type, const std::string& param = "",
           const std::string& code = "");
// The error type OpenAI uses for a status: invalid_request_error for 4xx, server_error else.
const char* error_type(int status);

// "stop" or "length"; null while the reply goes on.
json finish_reason(Finish finish);
json usage(const Outcome& outcome);

// A whole reply (stream: false).
json completion(const ReplyHeader& h, const std::string& text, const Outcome& outcome);
// Stream chunks: the first (chat: the assistant role), one per text piece, the last with
// the finish reason, and with stream_options.include_usage the usage chunk (no choices).
json first_chunk(const ReplyHeader& h, bool include_usage);
json text_chunk(const ReplyHeader& h, const std::string& text, bool include_usage);
json final_chunk(const ReplyHeader& h, Finish finish, bool include_usage);
json usage_chunk(const ReplyHeader& h, const Outcome& outcome);

json model_object(const std::string& id, int64_t created);
json model_list(const std::string& id, int64_t created);

// JSON text for the wire; bytes that are not UTF-8 become U+FFFD instead of throwing.
std::string dump(const json& j);
// One server-sent event: "data: JSON\n\n".
std::string event(const json& j);

}  // namespace moeserver::openai
