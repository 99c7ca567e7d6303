#include "openai.h"

#include <chrono>
#include <random>

namespace moeserver::openai {

namespace {

json null_if_empty(const std::string& s) {
    return s.empty() ? json() : json(s);
}

// The OpenAI SDKs compare nothing about it; it tells a log reader which server answered.
const char* kFingerprint = "moe-vk";

json base(const ReplyHeader& h, bool chunk) {
    return json{{"id", h.id},
                {"object", h.chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                  : "text_completion"},
                {"created", h.created},
                {"model", h.model},
                {"system_fingerprint", kFingerprint}};
}

json choice(const ReplyHeader& h, json delta_or_text, json finish) {
    json c{{"index", 0}, {"logprobs", nullptr}, {"finish_reason", std::move(finish)}};
    if (h.chat)
        c["delta"] = std::move(delta_or_text);
    else
        c["text"] = std::move(delta_or_text);
    return c;
}

json chunk(const ReplyHeader& h, json choice_json, bool include_usage) {
    json j = base(h, true);
    j["choices"] = json::array({std::move(choice_json)});
    if (include_usage) j["usage"] = nullptr;  // as OpenAI does: null on all but the last chunk
    return j;
}

}  // namespace

ReplyHeader new_reply(bool chat, const std::string& model) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    std::string id = chat ? "chatcmpl-" : "cmpl-";
    for (int i = 0; i < 24; ++i) id += digits[rng() % 62];
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return ReplyHeader{chat, id, std::chrono::duration_cast<std::chrono::seconds>(now).count(),
                       model};
}

json error(const std::string& message, const std::string& type, const std::string& param,
           const std::string& code) {
    return json{{"error",
                 {{"message", message},
                  {"type", type},
                  {"param", null_if_empty(param)},
                  {"code", null_if_empty(code)}}}};
}

const char* error_type(int status) {
    return status < 500 ? "invalid_request_error" : "server_error";
}

json finish_reason(Finish finish) {
    switch (finish) {
        case Finish::Stop:
            return "stop";
        case Finish::Length:
            return "length";
        default:
            return nullptr;
    }
}

json usage(const Outcome& o) {
    return json{{"prompt_tokens", o.prompt_tokens},
                {"completion_tokens", o.completion_tokens},
                {"total_tokens", o.prompt_tokens + o.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", o.cached_tokens}}}};
}

json completion(const ReplyHeader& h, const std::string& text, const Outcome& o) {
    json j = base(h, false);
    json c{{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_reason(o.finish)}};
    if (h.chat)
        c["message"] = json{{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
    else
        c["text"] = text;
    j["choices"] = json::array({std::move(c)});
    j["usage"] = usage(o);
    return j;
}

json first_chunk(const ReplyHeader& h, bool include_usage) {
    return chunk(
        h, choice(h, h.chat ? json{{"role", "assistant"}, {"content", ""}} : json(""), nullptr),
        include_usage);
}

json text_chunk(const ReplyHeader& h, const std::string& text, bool include_usage) {
    return chunk(h, choice(h, h.chat ? json{{"content", text}} : json(text), nullptr),
                 include_usage);
}

json final_chunk(const ReplyHeader& h, Finish finish, bool include_usage) {
    return chunk(h, choice(h, h.chat ? json::object() : json(""), finish_reason(finish)),
                 include_usage);
}

json usage_chunk(const ReplyHeader& h, const Outcome& o) {
    json j = base(h, true);
    j["choices"] = json::array();
    j["usage"] = usage(o);
    return j;
}

json model_object(const std::string& id, int64_t created) {
    return json{{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "moe-vk"}};
}

json model_list(const std::string& id, int64_t created) {
    return json{{"object", "list"}, {"data", json::array({model_object(id, created)})}};
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string event(const json& j) {
    return "data: " + dump(j) + "\n\n";
}

}  // namespace moeserver::openai
