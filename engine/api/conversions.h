// The C API's plain structs and arrays to the engine's types, checked on the way in: each
// failure is Error(InvalidArgument) naming the function, the field and the value.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "api/handles.h"
#include "moevk/moevk.h"
#include "runtime/generator.h"
#include "runtime/sampler.h"
#include "text/chat_template.h"

namespace moevk::api {

// Token ids as the engine takes them; `tokens` may be NULL only when count is 0.
std::vector<uint32_t> to_tokens(const int32_t* tokens, size_t count, const char* function);
std::vector<text::ChatMessage> to_messages(const moevk_message* messages, size_t count, const char* function);

struct ChatChoice {
    text::ChatTemplate chat_template;
    text::ChatOptions options;
};
// The template by name, or the tokenizer's own (Error(Unsupported) saying why it has none).
ChatChoice to_chat(const moevk_tokenizer& tokenizer, const moevk_chat_options* options, const char* function);

runtime::SamplingParams to_sampling(const moevk_sampling& sampling);

moevk_end_reason reason_of(runtime::GenerationEnd end);
// What a frame-loop step reports; `end` is the generation's when it is done.
moevk_step_result to_c(const runtime::AdvanceReport& report, runtime::GenerationEnd end);

}  // namespace moevk::api
