#include "request.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

namespace moeserver {

using nlohmann::json;

namespace {

// Real requests nest three or four levels (messages -> content parts); a cap keeps a body
// of a million brackets from costing anything but a 400.
constexpr int kMaxDepth = 32;
// OpenAI's own bounds on the lists.
constexpr size_t kMaxStops = 4;
constexpr size_t kMaxStopBytes = 256;
constexpr size_t kMaxMessages = 4096;

json parse_body(std::string_view body) {
    bool too_deep = false;
    json::parser_callback_t depth_check = [&](int depth, json::parse_event_t, json&) {
        if (depth > kMaxDepth) too_deep = true;
        return !too_deep;
    };
    json j = json::parse(body.begin(), body.end(), depth_check, /*allow_exceptions=*/false);
    if (too_deep)
        throw BadRequest("the request body nests deeper than " + std::to_string(kMaxDepth) +
                         " levels");
    if (j.is_discarded()) throw BadRequest("the request body is not valid JSON");
    if (!j.is_object()) throw BadRequest("the request body must be a JSON object");
    return j;
}

const char* type_name(const json& v) {
    return v.type_name();  // "null", "object", "array", "string", "boolean", "number"
}

// The field's value, or null when it is absent: OpenAI's clients send null for "not given".
const json& field(const json& body, const char* name) {
    static const json null_value;
    auto it = body.find(name);
    return it == body.end() ? null_value : *it;
}

[[noreturn]] void wrong_type(const std::string& name, const char* wanted, const json& v) {
    throw BadRequest("'" + name + "' must be " + wanted + ", not " + type_name(v), name);
}

std::optional<double> number(const json& body, const char* name, double lo, double hi) {
    const json& v = field(body, name);
    if (v.is_null()) return std::nullopt;
    if (!v.is_number()) wrong_type(name, "a number", v);
    double d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
        throw BadRequest("'" + std::string(name) + "' must be between " + json(lo).dump() +
                             " and " + json(hi).dump() + ", not " + v.dump(),
                         name);
    return d;
}

// An integer (a float with no fraction, such as 16.0, counts: JavaScript clients send those).
std::optional<int64_t> integer(const json& body, const char* name, int64_t lo, int64_t hi) {
    const json& v = field(body, name);
    if (v.is_null()) return std::nullopt;
    double d = v.is_number() ? v.get<double>() : NAN;
    if (!v.is_number() || (v.is_number_float() && (!std::isfinite(d) || d != std::floor(d))))
        wrong_type(name, "an integer", v);
    bool out_of_range = v.is_number_unsigned() ? (v.get<uint64_t>() > uint64_t(hi) ||
                                                  (lo > 0 && v.get<uint64_t>() < uint64_t(lo)))
                                               : (d < double(lo) || d > double(hi));
    if (out_of_range)
        throw BadRequest("'" + std::string(name) + "' must be between " + std::to_string(lo) +
                             " and " + std::to_string(hi) + ", not " + v.dump(),
                         name);
    return v.is_number_float() ? int64_t(d) : v.get<int64_t>();
}

// The engine takes stop strings and message contents as C strings: a NUL would cut them short
// without a word, so it is refused.
void no_nul(const std::string& text, const std::string& name) {
    if (text.find('\0') != std::string::npos)
        throw BadRequest("'" + name + "' contains a NUL character", name);
}

std::optional<bool> boolean(const json& body, const char* name) {
    const json& v = field(body, name);
    if (v.is_null()) return std::nullopt;
    if (!v.is_boolean()) wrong_type(name, "a boolean", v);
    return v.get<bool>();
}

// Fields OpenAI has that moe-server does not do: refused rather than silently ignored, so a
// client relying on one learns it at once. A value meaning "the default" passes.
void refuse_unsupported(const json& body) {
    if (auto n = integer(body, "n", 1, 128); n && *n != 1)
        throw BadRequest("'n' must be 1: moe-server writes one choice per request", "n");
    if (boolean(body, "logprobs").value_or(false))
        throw BadRequest("'logprobs' is not supported", "logprobs");
    const json& tools = field(body, "tools");
    if (!tools.is_null() && !(tools.is_array() && tools.empty()))
        throw BadRequest("'tools' is not supported", "tools");
    const json& format = field(body, "response_format");
    if (!format.is_null() && !(format.is_object() && format.value("type", json()) == "text"))
        throw BadRequest("'response_format' other than {\"type\": \"text\"} is not supported",
                         "response_format");
    const json& bias = field(body, "logit_bias");
    if (!bias.is_null() && !(bias.is_object() && bias.empty()))
        throw BadRequest("'logit_bias' is not supported", "logit_bias");
}

void parse_common(const json& body, const RequestDefaults& d, ParsedRequest& r) {
    // Any model name is accepted: the server has one model, and the replies name it.
    const json& model = field(body, "model");
    if (!model.is_null() && !model.is_string()) wrong_type("model", "a string", model);
    refuse_unsupported(body);

    r.stream = boolean(body, "stream").value_or(false);
    const json& options = field(body, "stream_options");
    if (!options.is_null()) {
        if (!options.is_object()) wrong_type("stream_options", "an object", options);
        if (!r.stream)
            throw BadRequest("'stream_options' is only allowed with \"stream\": true",
                             "stream_options");
        r.include_usage = boolean(options, "include_usage").value_or(false);
    }

    r.sampling = d.sampling;
    if (auto v = number(body, "temperature", 0, 2)) r.sampling.temperature = float(*v);
    if (auto v = number(body, "top_p", 0, 1)) r.sampling.top_p = float(*v);
    if (auto v = integer(body, "top_k", 0, 1 << 20)) r.sampling.top_k = int32_t(*v);
    if (auto v = number(body, "min_p", 0, 1)) r.sampling.min_p = float(*v);
    if (auto v = number(body, "presence_penalty", -2, 2)) r.sampling.presence_penalty = float(*v);
    if (auto v = number(body, "frequency_penalty", -2, 2)) r.sampling.frequency_penalty = float(*v);
    if (auto v = integer(body, "seed", INT64_MIN, INT64_MAX))
        r.sampling.seed = uint64_t(*v);
    else if (!d.fixed_seed)
        r.sampling.seed = (uint64_t(std::random_device{}()) << 32) | std::random_device{}();

    // max_completion_tokens is the newer name; either may come.
    auto max_tokens = integer(body, "max_tokens", 1, d.n_ctx);
    if (auto v = integer(body, "max_completion_tokens", 1, d.n_ctx)) max_tokens = v;
    if (max_tokens) r.max_tokens = uint32_t(*max_tokens);

    r.ignore_eos = boolean(body, "ignore_eos").value_or(false);

    const json& stop = field(body, "stop");
    auto add_stop = [&](const json& s) {
        if (!s.is_string()) wrong_type("stop", "a string or an array of strings", s);
        const std::string& text = s.get_ref<const std::string&>();
        if (text.empty() || text.size() > kMaxStopBytes)
            throw BadRequest(
                "each 'stop' string must have 1 to " + std::to_string(kMaxStopBytes) + " bytes",
                "stop");
        no_nul(text, "stop");
        r.stop.push_back(text);
    };
    if (stop.is_array()) {
        if (stop.size() > kMaxStops) throw BadRequest("'stop' takes at most 4 strings", "stop");
        for (const json& s : stop) add_stop(s);
    } else if (!stop.is_null()) {
        add_stop(stop);
    }
}

moevk_role role_of(const json& v, const std::string& where) {
    if (!v.is_string()) wrong_type(where, "a string", v);
    const std::string& role = v.get_ref<const std::string&>();
    if (role == "system" || role == "developer") return MOEVK_ROLE_SYSTEM;
    if (role == "user") return MOEVK_ROLE_USER;
    if (role == "assistant") return MOEVK_ROLE_ASSISTANT;
    throw BadRequest(
        "'" + where + "' must be system, developer, user or assistant, not '" + role + "'", where);
}

// A message's content: a string, or OpenAI's array of parts of which moe-server reads text.
std::string content_of(const json& v, const std::string& where, bool may_be_null) {
    if (v.is_null() && may_be_null) return "";
    if (v.is_string()) return v.get<std::string>();
    if (!v.is_array()) wrong_type(where, "a string or an array of content parts", v);
    std::string text;
    for (size_t i = 0; i < v.size(); ++i) {
        const json& part = v[i];
        std::string at = where + "[" + std::to_string(i) + "]";
        if (!part.is_object()) wrong_type(at, "an object", part);
        const json& type = field(part, "type");
        if (type != "text")
            throw BadRequest("'" + at + ".type' must be \"text\": moe-server reads text only",
                             at + ".type");
        const json& t = field(part, "text");
        if (!t.is_string()) wrong_type(at + ".text", "a string", t);
        text += t.get<std::string>();
    }
    return text;
}

}  // namespace

ParsedRequest parse_chat_request(std::string_view body_text, const RequestDefaults& defaults) {
    json body = parse_body(body_text);
    ParsedRequest r;
    r.chat = true;
    const json& messages = field(body, "messages");
    if (messages.is_null()) throw BadRequest("'messages' is required", "messages");
    if (!messages.is_array()) wrong_type("messages", "an array", messages);
    if (messages.empty()) throw BadRequest("'messages' must have at least one message", "messages");
    if (messages.size() > kMaxMessages)
        throw BadRequest("'messages' has more than " + std::to_string(kMaxMessages) + " messages",
                         "messages");
    for (size_t i = 0; i < messages.size(); ++i) {
        const json& m = messages[i];
        std::string at = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) wrong_type(at, "an object", m);
        moevk_role role = role_of(field(m, "role"), at + ".role");
        std::string content =
            content_of(field(m, "content"), at + ".content", role == MOEVK_ROLE_ASSISTANT);
        no_nul(content, at + ".content");
        r.messages.push_back({role, std::move(content)});
    }
    parse_common(body, defaults, r);
    return r;
}

ParsedRequest parse_completion_request(std::string_view body_text,
                                       const RequestDefaults& defaults) {
    json body = parse_body(body_text);
    ParsedRequest r;
    r.chat = false;
    const json& prompt = field(body, "prompt");
    if (prompt.is_string()) {
        r.prompt = prompt.get<std::string>();
    } else if (prompt.is_array() && prompt.size() == 1 && prompt[0].is_string()) {
        r.prompt = prompt[0].get<std::string>();
    } else if (prompt.is_null()) {
        throw BadRequest("'prompt' is required", "prompt");
    } else {
        throw BadRequest(
            "'prompt' must be a string (or an array of one string), not " +
                std::string(type_name(prompt)) +
                (prompt.is_array() ? " of " + std::to_string(prompt.size()) + " items" : ""),
            "prompt");
    }
    if (boolean(body, "echo").value_or(false)) throw BadRequest("'echo' is not supported", "echo");
    if (!field(body, "suffix").is_null()) throw BadRequest("'suffix' is not supported", "suffix");
    if (auto b = integer(body, "best_of", 1, 128); b && *b != 1)
        throw BadRequest("'best_of' must be 1", "best_of");
    parse_common(body, defaults, r);
    return r;
}

JobInput make_job_input(const ParsedRequest& r, const moevk::Tokenizer& tokenizer,
                        const RequestDefaults& d) {
    JobInput in;
    in.chat = r.chat;
    in.sampling = r.sampling;
    in.stop = r.stop;
    in.ignore_eos = r.ignore_eos;
    const char* what = r.chat ? "messages" : "prompt";
    if (r.chat) {
        in.messages = r.messages;
        moevk_chat_options options = moevk_chat_options_default();
        if (!d.template_name.empty()) options.template_name = d.template_name.c_str();
        std::string text;
        try {
            text = tokenizer.render(r.messages, options);
        } catch (const moevk::Exception& e) {
            // The template refuses the conversation (a role order it has no form for, ...).
            throw BadRequest(
                std::string("the chat template cannot render these messages: ") + e.what(),
                "messages");
        }
        // As feed_chat tokenizes: special tokens in the rendering parsed, BOS where the
        // vocabulary wants one and the template did not write it.
        in.prompt_tokens = tokenizer.tokenize(text, MOEVK_TOKENIZE_PARSE_SPECIAL);
        moevk_vocab_info v = tokenizer.info();
        if (v.add_bos && v.bos >= 0 && (in.prompt_tokens.empty() || in.prompt_tokens[0] != v.bos))
            in.prompt_tokens.insert(in.prompt_tokens.begin(), v.bos);
    } else {
        in.prompt_tokens = tokenizer.tokenize(r.prompt, MOEVK_TOKENIZE_DEFAULT_BOS);
    }
    if (in.prompt_tokens.empty())
        throw BadRequest(std::string("'") + what + "' gives no tokens", what);
    const size_t n = in.prompt_tokens.size();
    if (n >= d.n_ctx)
        throw BadRequest("the " + std::string(r.chat ? "messages take " : "prompt takes ") +
                             std::to_string(n) + " tokens, and this server's context holds " +
                             std::to_string(d.n_ctx) + " (prompt and reply together)",
                         what, "context_length_exceeded");
    const uint32_t room = d.n_ctx - uint32_t(n);
    if (r.max_tokens && *r.max_tokens > room)
        throw BadRequest("the prompt takes " + std::to_string(n) +
                             " tokens, so 'max_tokens' can be at most " + std::to_string(room) +
                             " in this server's context of " + std::to_string(d.n_ctx),
                         "max_tokens", "context_length_exceeded");
    in.max_tokens = r.max_tokens ? *r.max_tokens : std::min(d.max_tokens, room);
    return in;
}

}  // namespace moeserver
