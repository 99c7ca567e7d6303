// Request bodies of /v1/chat/completions and /v1/completions: parsed, type-checked and
// bounded here, before anything reaches the scheduler, so a bad field is a 400 that names it.
#pragma once

#include <cstdint>
#include <moevk/moevk.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "job.h"

namespace moeserver {

// A client error: the HTTP status, OpenAI's error `param` (the field, "" for none) and `code`.
struct BadRequest : std::runtime_error {
    BadRequest(std::string message, std::string param = "", std::string code = "", int status = 400)
        : std::runtime_error(std::move(message)),
          param(std::move(param)),
          code(std::move(code)),
          status(status) {}
    std::string param, code;
    int status;
};

// What the server fills in where a request says nothing, and the bounds it enforces.
struct RequestDefaults {
    moevk_sampling sampling = moevk_sampling_default();
    bool fixed_seed = false;    // --seed given: requests without a seed use it, else a random one
    uint32_t max_tokens = 512;  // for a request without max_tokens (less where the context ends)
    uint32_t n_ctx = 2048;      // each slot's context: prompt + reply must fit
    std::string template_name;  // "" for the model file's chat template
};

struct ParsedRequest {
    bool chat = true;
    bool stream = false;
    bool include_usage = false;            // stream_options.include_usage
    std::vector<moevk::Message> messages;  // chat
    std::string prompt;                    // completions
    moevk_sampling sampling = moevk_sampling_default();
    std::optional<uint32_t> max_tokens;
    std::vector<std::string> stop;
    bool ignore_eos = false;  // an extension (llama.cpp's name): go on past end-of-text tokens
};

// Throw BadRequest naming the field. The body is JSON text of at most the server's body limit.
ParsedRequest parse_chat_request(std::string_view body, const RequestDefaults& defaults);
ParsedRequest parse_completion_request(std::string_view body, const RequestDefaults& defaults);

// The job for a parsed request: the prompt rendered and tokenized as the session will hold it,
// checked against the context (400 context_length_exceeded), and max_tokens settled.
JobInput make_job_input(const ParsedRequest& request, const moevk::Tokenizer& tokenizer,
                        const RequestDefaults& defaults);

}  // namespace moeserver
