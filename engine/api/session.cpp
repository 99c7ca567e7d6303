// Sessions: input, evaluation, sampling and generation, blocking or a frame's budget at a time.
#include <cmath>

#include "api/conversions.h"
#include "api/guard.h"
#include "api/handles.h"

using namespace moevk;
using namespace moevk::api;

namespace {

moevk_generation to_c(const runtime::GenerationResult& r) {
    moevk_generation g{sizeof(moevk_generation)};
    g.end = reason_of(r.end);
    g.prompt_tokens = r.prompt_tokens;
    g.generated_tokens = r.generated_tokens;
    g.prompt_seconds = r.prompt_seconds;
    g.generate_seconds = r.generate_seconds;
    return g;
}

runtime::GenerateOptions to_generate(const moevk_generate_options* options, const char* fn) {
    moevk_generate_options o = read_struct(options, moevk_generate_options_default(), fn, "options");
    runtime::GenerateOptions g;
    g.max_tokens = o.max_tokens;
    if (o.n_stop_strings > 0) need(o.stop_strings, fn, "options->stop_strings");
    for (size_t i = 0; i < o.n_stop_strings; ++i) {
        if (!o.stop_strings[i] || !*o.stop_strings[i])
            throw Error(ErrorCode::InvalidArgument,
                        std::string(fn) + ": options->stop_strings[" + std::to_string(i) + "] is NULL or empty");
        g.stop_strings.emplace_back(o.stop_strings[i]);
    }
    g.ignore_eog = o.ignore_eog != 0;
    if (o.on_token) {
        moevk_token_callback callback = o.on_token;
        void* user = o.user;
        g.on_token = [callback, user](std::optional<uint32_t> token, std::string_view text) {
            std::string piece(text);  // NUL-terminated for C callers
            return callback(user, token ? int32_t(*token) : -1, piece.c_str(), piece.size()) != 0;
        };
    }
    return g;
}

runtime::Generator& generator(moevk_session* s, const char* fn) { return *need(s, fn, "session").generator; }
const runtime::Generator& generator(const moevk_session* s, const char* fn) { return *need(s, fn, "session").generator; }

}  // namespace

extern "C" {

moevk_sampling moevk_sampling_default(void) {
    runtime::SamplingParams p;
    moevk_sampling s{sizeof(moevk_sampling)};
    s.temperature = p.temperature;
    s.top_k = p.top_k;
    s.top_p = p.top_p;
    s.min_p = p.min_p;
    s.repeat_penalty = p.repeat_penalty;
    s.frequency_penalty = p.frequency_penalty;
    s.presence_penalty = p.presence_penalty;
    s.penalty_last_n = p.penalty_last_n;
    s.seed = p.seed;
    return s;
}

moevk_session_options moevk_session_options_default(void) {
    moevk_session_options o{sizeof(moevk_session_options)};
    o.max_batch = 256;
    o.sampling = moevk_sampling_default();
    o.record_experts = 1;
    return o;
}

moevk_status moevk_session_create(moevk_model* model, const moevk_session_options* options, moevk_session** session) {
    return guard([&] {
        const char* fn = "moevk_session_create";
        moevk_session*& out = need(session, fn, "session");
        out = nullptr;
        std::shared_ptr<LoadedModel> m = need(model, fn, "model").model;
        moevk_session_options o = read_struct(options, moevk_session_options_default(), fn, "options");
        runtime::SamplingParams sampling =
            to_sampling(read_struct(&o.sampling, moevk_sampling_default(), fn, "options->sampling"));
        if (o.max_batch == 0) throw Error(ErrorCode::InvalidArgument, std::string(fn) + ": max_batch is 0");
        runtime::SessionOptions so;
        so.n_ctx = o.n_ctx;
        so.max_batch = o.max_batch;
        so.kv_format = m->defaults.kv_format;
        so.record_experts = o.record_experts != 0;
        so.vram_budget = m->defaults.vram_budget;
        so.cache_policy = m->defaults.cache_policy;
        so.prefetch = m->defaults.prefetch;
        auto s = std::make_unique<moevk_session>();
        s->model = m;
        {
            std::lock_guard<std::mutex> guard(*m->creation_lock);
            s->session = std::make_unique<runtime::Session>(*m->context, *m->device, so);
        }
        s->session->warm_up();
        s->generator =
            std::make_unique<runtime::Generator>(*m->context, *s->session,
                                                 m->tokenizer ? &m->tokenizer->tokenizer : nullptr, sampling);
        out = s.release();
    });
}

void moevk_session_destroy(moevk_session* session) { delete session; }

moevk_status moevk_session_feed_tokens(moevk_session* session, const int32_t* tokens, size_t count) {
    return guard([&] {
        const char* fn = "moevk_session_feed_tokens";
        runtime::Generator& g = generator(session, fn);
        g.feed(to_tokens(tokens, count, fn));
    });
}

moevk_status moevk_session_feed_chat(moevk_session* session, const moevk_message* messages, size_t count,
                                     const moevk_chat_options* options) {
    return guard([&] {
        const char* fn = "moevk_session_feed_chat";
        runtime::Generator& g = generator(session, fn);
        std::vector<text::ChatMessage> conversation = to_messages(messages, count, fn);
        if (!session->model->tokenizer)
            throw Error(ErrorCode::Unsupported, std::string(fn) + ": the model has no vocabulary: " +
                                                    session->model->vocab_error);
        ChatChoice chat = to_chat(*session->model->tokenizer, options, fn);
        g.feed_chat(conversation, chat.chat_template, chat.options);
    });
}

moevk_status moevk_session_eval(moevk_session* session, const int32_t* tokens, size_t count, float* logits) {
    return guard([&] {
        const char* fn = "moevk_session_eval";
        runtime::Generator& g = generator(session, fn);
        std::vector<float> rows = g.eval(to_tokens(tokens, count, fn), logits != nullptr);
        if (logits) std::copy(rows.begin(), rows.end(), logits);
    });
}

moevk_status moevk_session_get_logits(const moevk_session* session, const float** logits, uint32_t* n_vocab) {
    return guard([&] {
        const char* fn = "moevk_session_get_logits";
        const float*& out = need(logits, fn, "logits");
        uint32_t& n = need(n_vocab, fn, "n_vocab");
        std::span<const float> row = generator(session, fn).logits();
        out = row.data();
        n = static_cast<uint32_t>(row.size());
    });
}

moevk_status moevk_session_sample(moevk_session* session, int32_t* token) {
    return guard([&] {
        const char* fn = "moevk_session_sample";
        int32_t& out = need(token, fn, "token");
        out = int32_t(generator(session, fn).sample());
    });
}

moevk_status moevk_session_set_sampling(moevk_session* session, const moevk_sampling* sampling) {
    return guard([&] {
        const char* fn = "moevk_session_set_sampling";
        runtime::Generator& g = generator(session, fn);
        need(sampling, fn, "sampling");
        g.set_sampling(to_sampling(read_struct(sampling, moevk_sampling_default(), fn, "sampling")));
    });
}

moevk_status moevk_session_reset(moevk_session* session) {
    return guard([&] { generator(session, "moevk_session_reset").reset(); });
}

moevk_status moevk_session_truncate(moevk_session* session, uint32_t n_keep) {
    return guard([&] { generator(session, "moevk_session_truncate").truncate(n_keep); });
}

moevk_status moevk_session_get_tokens(const moevk_session* session, int32_t* tokens, size_t capacity, size_t* count) {
    return guard([&] {
        const char* fn = "moevk_session_get_tokens";
        write_ids(generator(session, fn).history(), tokens, capacity, count, fn, "the history");
    });
}

const char* moevk_end_reason_name(moevk_end_reason reason) {
    switch (reason) {
        case MOEVK_END_NONE: return "running";
        case MOEVK_END_EOG: return "end of turn";
        case MOEVK_END_STOP_STRING: return "stop string";
        case MOEVK_END_LENGTH: return "length limit";
        case MOEVK_END_CONTEXT_FULL: return "context full";
        case MOEVK_END_STOPPED: return "stopped";
        case MOEVK_END_ERROR: return "error";
    }
    return "unknown";
}

moevk_generate_options moevk_generate_options_default(void) {
    moevk_generate_options o{sizeof(moevk_generate_options)};
    o.max_tokens = 256;
    return o;
}

moevk_status moevk_session_generate(moevk_session* session, const moevk_generate_options* options,
                                    moevk_generation* result) {
    const char* fn = "moevk_session_generate";
    moevk_status status = guard([&] {
        runtime::Generator& g = generator(session, fn);
        g.run(to_generate(options, fn));
    });
    if (!result || !session) return status;
    return guard_then(status, [&] { write_struct(result, to_c(session->generator->last_result()), fn, "result"); });
}

moevk_status moevk_session_start(moevk_session* session, const moevk_generate_options* options) {
    return guard([&] {
        const char* fn = "moevk_session_start";
        runtime::Generator& g = generator(session, fn);
        g.start(to_generate(options, fn));
    });
}

moevk_status moevk_session_step(moevk_session* session, uint32_t budget_us, moevk_step_result* result) {
    const char* fn = "moevk_session_step";
    moevk_step_result r{sizeof(moevk_step_result)};
    moevk_status status = guard([&] {
        need(result, fn, "result");
        runtime::Generator& g = generator(session, fn);
        if (!g.running()) {
            // After the end, a frame loop may call once more: nothing runs.
            r.done = 1;
            r.end = reason_of(g.last_result().end);
            return;
        }
        runtime::AdvanceReport a = g.advance(double(budget_us));
        r = to_c(a, g.last_result().end);  // the end the step just set
    });
    if (status != MOEVK_OK && session && !session->generator->running()) {
        // The step failed and ended the generation.
        r.done = 1;
        r.end = MOEVK_END_ERROR;
    }
    if (!result) return status;
    return guard_then(status, [&] { write_struct(result, r, fn, "result"); });
}

moevk_status moevk_session_stop(moevk_session* session) {
    return guard([&] { generator(session, "moevk_session_stop").stop(); });
}

moevk_status moevk_session_last_generation(const moevk_session* session, moevk_generation* result) {
    return guard([&] {
        const char* fn = "moevk_session_last_generation";
        write_struct(result, to_c(generator(session, fn).last_result()), fn, "result");
    });
}

}  // extern "C"
