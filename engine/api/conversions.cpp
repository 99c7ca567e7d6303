#include "api/conversions.h"

#include <string>

#include "api/guard.h"

namespace moevk::api {

std::vector<uint32_t> to_tokens(const int32_t* tokens, size_t count, const char* function) {
    if (count > 0 && !tokens) throw Error(ErrorCode::InvalidArgument, std::string(function) + ": tokens is NULL");
    std::vector<uint32_t> ids;
    ids.reserve(count);
    for (size_t i = 0; i < count; ++i) {
        if (tokens[i] < 0)
            throw Error(ErrorCode::InvalidArgument, std::string(function) + ": token id " + std::to_string(tokens[i]) +
                                                        " (at " + std::to_string(i) + ") is negative");
        ids.push_back(static_cast<uint32_t>(tokens[i]));
    }
    return ids;
}

std::vector<text::ChatMessage> to_messages(const moevk_message* messages, size_t count, const char* function) {
    if (count == 0) throw Error(ErrorCode::InvalidArgument, std::string(function) + ": no messages");
    need(messages, function, "messages");
    std::vector<text::ChatMessage> out;
    for (size_t i = 0; i < count; ++i) {
        const moevk_message& m = messages[i];
        text::Role role;
        switch (m.role) {
            case MOEVK_ROLE_SYSTEM: role = text::Role::System; break;
            case MOEVK_ROLE_USER: role = text::Role::User; break;
            case MOEVK_ROLE_ASSISTANT: role = text::Role::Assistant; break;
            default:
                throw Error(ErrorCode::InvalidArgument, std::string(function) + ": messages[" + std::to_string(i) +
                                                            "].role is " + std::to_string(int(m.role)) +
                                                            " (system 0, user 1, assistant 2)");
        }
        if (!m.content)
            throw Error(ErrorCode::InvalidArgument,
                        std::string(function) + ": messages[" + std::to_string(i) + "].content is NULL");
        out.push_back({role, m.content});
    }
    return out;
}

ChatChoice to_chat(const moevk_tokenizer& tokenizer, const moevk_chat_options* options, const char* function) {
    moevk_chat_options o = read_struct(options, moevk_chat_options_default(), function, "options");
    text::ChatOptions co;
    co.add_generation_prompt = o.add_generation_prompt != 0;
    if (o.enable_thinking != -1 && o.enable_thinking != 0 && o.enable_thinking != 1)
        throw Error(ErrorCode::InvalidArgument, std::string(function) + ": enable_thinking is " +
                                                    std::to_string(o.enable_thinking) + " (-1, 0 or 1)");
    if (o.enable_thinking != -1) co.enable_thinking = o.enable_thinking == 1;
    if (o.reasoning_effort) {
        std::string effort = o.reasoning_effort;
        if (effort != "low" && effort != "medium" && effort != "high")
            throw Error(ErrorCode::InvalidArgument, std::string(function) + ": reasoning_effort \"" + effort +
                                                        "\" (low, medium or high)");
        co.reasoning_effort = effort;
    }
    if (o.template_name) return {text::ChatTemplate::from_name(o.template_name), co};
    if (!tokenizer.chat_template)
        throw Error(ErrorCode::Unsupported, tokenizer.template_error + "; choose a format by template_name");
    return {*tokenizer.chat_template, co};
}

runtime::SamplingParams to_sampling(const moevk_sampling& s) {
    runtime::SamplingParams p;
    p.temperature = s.temperature;
    p.top_k = s.top_k;
    p.top_p = s.top_p;
    p.min_p = s.min_p;
    p.repeat_penalty = s.repeat_penalty;
    p.frequency_penalty = s.frequency_penalty;
    p.presence_penalty = s.presence_penalty;
    p.penalty_last_n = s.penalty_last_n;
    p.seed = s.seed;
    runtime::Sampler check(p);  // Error(InvalidArgument) naming a value out of range
    return p;
}

moevk_end_reason reason_of(runtime::GenerationEnd end) {
    switch (end) {
        case runtime::GenerationEnd::None: return MOEVK_END_NONE;
        case runtime::GenerationEnd::EndOfGeneration: return MOEVK_END_EOG;
        case runtime::GenerationEnd::StopString: return MOEVK_END_STOP_STRING;
        case runtime::GenerationEnd::Length: return MOEVK_END_LENGTH;
        case runtime::GenerationEnd::ContextFull: return MOEVK_END_CONTEXT_FULL;
        case runtime::GenerationEnd::Stopped: return MOEVK_END_STOPPED;
        case runtime::GenerationEnd::Error: return MOEVK_END_ERROR;
    }
    return MOEVK_END_ERROR;
}

moevk_step_result to_c(const runtime::AdvanceReport& a, runtime::GenerationEnd end) {
    moevk_step_result r{sizeof(moevk_step_result)};
    r.done = a.done;
    r.in_flight = a.in_flight;
    r.new_tokens = a.new_tokens;
    r.pieces = a.pieces;
    r.estimated_gpu_us = a.estimated_us;
    r.end = a.done ? reason_of(end) : MOEVK_END_NONE;
    return r;
}

}  // namespace moevk::api
