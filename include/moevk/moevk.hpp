// moe-vk for C++ hosts: RAII wrappers over the C API (moevk.h), header-only. A failed call
// throws moevk::Exception with the status and the library's message. Thread rules and
// lifetimes are the C API's: see moevk.h.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "moevk.h"

namespace moevk {

class Exception : public std::runtime_error {
public:
    Exception(moevk_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    moevk_status status() const { return status_; }

private:
    moevk_status status_;
};

inline void check(moevk_status status) {
    if (status == MOEVK_OK) return;
    std::string message = moevk_last_error();
    throw Exception(status, std::string(moevk_status_name(status)) + ": " + message);
}

namespace detail {

template <class T, void (*Destroy)(T*)>
struct Deleter {
    void operator()(T* p) const { Destroy(p); }
};

// Fills a string through one of the C API's (buffer, capacity, length) outputs, growing it once
// when the first guess is short.
template <class Call>
std::string read_text(Call&& call) {
    std::string text(256, '\0');
    size_t length = 0;
    moevk_status s = call(text.data(), text.size() + 1, &length);
    if (s == MOEVK_ERROR_BUFFER_TOO_SMALL) {
        text.assign(length, '\0');
        s = call(text.data(), text.size() + 1, &length);
    }
    check(s);
    text.resize(length);
    return text;
}

template <class T>
T sized() {
    T value{};
    value.struct_size = sizeof(T);
    return value;
}

}  // namespace detail

struct Message {
    moevk_role role = MOEVK_ROLE_USER;
    std::string content;
};

class Engine {
public:
    explicit Engine(const moevk_engine_options& options = moevk_engine_options_default()) {
        moevk_engine* e = nullptr;
        check(moevk_engine_create(&options, &e));
        handle_.reset(e);
    }
    // Takes ownership of an engine made by the C API (moevk_engine_create_on_device).
    explicit Engine(moevk_engine* adopted) : handle_(adopted) {}

    moevk_engine* get() const { return handle_.get(); }
    moevk_device_info device_info() const {
        auto info = detail::sized<moevk_device_info>();
        check(moevk_engine_get_device_info(get(), &info));
        return info;
    }
    bool owns_device() const { return moevk_engine_owns_device(get()) != 0; }

    static std::vector<moevk_device_info> devices() {
        uint32_t n = 0;
        check(moevk_device_count(&n));
        std::vector<moevk_device_info> out;
        for (uint32_t i = 0; i < n; ++i) {
            auto info = detail::sized<moevk_device_info>();
            check(moevk_device_get_info(i, &info));
            out.push_back(info);
        }
        return out;
    }

private:
    std::unique_ptr<moevk_engine, detail::Deleter<moevk_engine, moevk_engine_destroy>> handle_;
};

class Detokenizer;

// A tokenizer the caller owns (Tokenizer::load) or a model's (Model::tokenizer(), valid while
// the model lives).
class Tokenizer {
public:
    static Tokenizer load(const std::string& path) {
        moevk_tokenizer* t = nullptr;
        check(moevk_tokenizer_load(path.c_str(), &t));
        return Tokenizer(t, true);
    }
    explicit Tokenizer(const moevk_tokenizer* borrowed) : Tokenizer(const_cast<moevk_tokenizer*>(borrowed), false) {}

    const moevk_tokenizer* get() const { return handle_.get(); }

    moevk_vocab_info info() const {
        auto info = detail::sized<moevk_vocab_info>();
        check(moevk_tokenizer_get_info(get(), &info));
        return info;
    }
    std::vector<int32_t> tokenize(std::string_view text, uint32_t flags = MOEVK_TOKENIZE_DEFAULT_BOS) const {
        std::vector<int32_t> ids(text.size() + 2);
        size_t n = 0;
        moevk_status s = moevk_tokenize(get(), text.data(), text.size(), flags, ids.data(), ids.size(), &n);
        if (s == MOEVK_ERROR_BUFFER_TOO_SMALL) {
            ids.resize(n);
            s = moevk_tokenize(get(), text.data(), text.size(), flags, ids.data(), ids.size(), &n);
        }
        check(s);
        ids.resize(n);
        return ids;
    }
    std::string piece(int32_t token, uint32_t flags = 0) const {
        return detail::read_text([&](char* b, size_t c, size_t* l) { return moevk_token_to_piece(get(), token, flags, b, c, l); });
    }
    std::string detokenize(std::span<const int32_t> tokens, uint32_t flags = 0) const {
        return detail::read_text(
            [&](char* b, size_t c, size_t* l) { return moevk_detokenize(get(), tokens.data(), tokens.size(), flags, b, c, l); });
    }
    bool is_eog(int32_t token) const { return moevk_token_is_eog(get(), token) != 0; }
    std::string render(const std::vector<Message>& messages,
                       const moevk_chat_options& options = moevk_chat_options_default()) const {
        std::vector<moevk_message> raw = to_c(messages);
        return detail::read_text([&](char* b, size_t c, size_t* l) {
            return moevk_chat_render(get(), raw.data(), raw.size(), &options, b, c, l);
        });
    }

    static std::vector<moevk_message> to_c(const std::vector<Message>& messages) {
        std::vector<moevk_message> raw;
        for (const Message& m : messages) raw.push_back({m.role, m.content.c_str()});
        return raw;
    }
    static std::vector<std::string> template_names() {
        std::vector<std::string> names;
        for (size_t i = 0; const char* n = moevk_chat_template_name(i); ++i) names.emplace_back(n);
        return names;
    }

private:
    struct MaybeDestroy {
        bool owned = false;
        void operator()(moevk_tokenizer* t) const {
            if (owned) moevk_tokenizer_destroy(t);
        }
    };
    Tokenizer(moevk_tokenizer* t, bool owned) : handle_(t, MaybeDestroy{owned}) {}
    std::unique_ptr<moevk_tokenizer, MaybeDestroy> handle_;
};

class Detokenizer {
public:
    explicit Detokenizer(const Tokenizer& tokenizer, uint32_t flags = 0) {
        moevk_detokenizer* d = nullptr;
        check(moevk_detokenizer_create(tokenizer.get(), flags, &d));
        handle_.reset(d);
    }
    std::string push(int32_t token) {
        return detail::read_text([&](char* b, size_t c, size_t* l) { return moevk_detokenizer_push(get(), token, b, c, l); });
    }
    std::string flush() {
        return detail::read_text([&](char* b, size_t c, size_t* l) { return moevk_detokenizer_flush(get(), b, c, l); });
    }
    moevk_detokenizer* get() const { return handle_.get(); }

private:
    std::unique_ptr<moevk_detokenizer, detail::Deleter<moevk_detokenizer, moevk_detokenizer_destroy>> handle_;
};

// A gpt-oss reply split by channel as it streams (moevk_harmony_*): feed each piece of the
// reply's text, finish with the generation's end reason.
class HarmonyReply {
public:
    struct Piece {
        moevk_channel channel = MOEVK_CHANNEL_FINAL;
        std::string text;
    };

    HarmonyReply() {
        moevk_harmony* h = nullptr;
        check(moevk_harmony_create(&h));
        handle_.reset(h);
    }
    std::vector<Piece> feed(std::string_view text) {
        return collect([&](moevk_channel_callback cb, void* user) {
            return moevk_harmony_feed(get(), text.data(), text.size(), cb, user);
        });
    }
    std::vector<Piece> finish(moevk_end_reason end) {
        return collect([&](moevk_channel_callback cb, void* user) { return moevk_harmony_finish(get(), end, cb, user); });
    }
    moevk_harmony_state state() const {
        auto s = detail::sized<moevk_harmony_state>();
        check(moevk_harmony_get_state(get(), &s));
        return s;
    }
    bool final_ended() const { return state().final_ended != 0; }
    bool done() const { return state().done != 0; }
    moevk_harmony* get() const { return handle_.get(); }

private:
    template <class Call>
    static std::vector<Piece> collect(Call&& call) {
        struct Relay {
            std::vector<Piece> pieces;
            std::exception_ptr error;
        } relay;
        moevk_channel_callback cb = [](void* user, moevk_channel channel, const char* text, size_t length) {
            auto* r = static_cast<Relay*>(user);
            if (r->error) return;
            try {
                r->pieces.push_back({channel, std::string(text, length)});
            } catch (...) {
                r->error = std::current_exception();
            }
        };
        moevk_status s = call(cb, &relay);
        if (relay.error) std::rethrow_exception(relay.error);
        check(s);
        return std::move(relay.pieces);
    }
    std::unique_ptr<moevk_harmony, detail::Deleter<moevk_harmony, moevk_harmony_destroy>> handle_;
};

class Model {
public:
    Model(const Engine& engine, const std::string& path,
          const moevk_model_options& options = moevk_model_options_default()) {
        moevk_model* m = nullptr;
        check(moevk_model_load(engine.get(), path.c_str(), &options, &m));
        handle_.reset(m);
    }
    // With a progress callback (fraction 0..1; return false to cancel the load).
    Model(const Engine& engine, const std::string& path, moevk_model_options options,
          const std::function<bool(float)>& progress) {
        struct Relay {
            const std::function<bool(float)>* fn;
            std::exception_ptr error;
        } relay{&progress, nullptr};
        options.progress = [](void* user, float fraction) -> int {
            auto* r = static_cast<Relay*>(user);
            try {
                return (*r->fn)(fraction) ? 1 : 0;
            } catch (...) {
                r->error = std::current_exception();
                return 0;
            }
        };
        options.progress_user = &relay;
        moevk_model* m = nullptr;
        moevk_status s = moevk_model_load(engine.get(), path.c_str(), &options, &m);
        if (relay.error) std::rethrow_exception(relay.error);
        check(s);
        handle_.reset(m);
    }

    moevk_model* get() const { return handle_.get(); }
    moevk_model_info info() const {
        auto info = detail::sized<moevk_model_info>();
        check(moevk_model_get_info(get(), &info));
        return info;
    }
    // Throws when the file's vocabulary could not be read (info().vocab_error says why).
    Tokenizer tokenizer() const {
        const moevk_tokenizer* t = moevk_model_get_tokenizer(get());
        if (!t) throw Exception(MOEVK_ERROR_UNSUPPORTED, std::string("the model has no tokenizer: ") + info().vocab_error);
        return Tokenizer(t);
    }

private:
    std::unique_ptr<moevk_model, detail::Deleter<moevk_model, moevk_model_destroy>> handle_;
};

// Generation settings for Session::generate and Session::start, with a C++ callback.
struct Generate {
    uint32_t max_tokens = 256;
    std::vector<std::string> stop_strings;
    bool ignore_eog = false;
    // Each token and its text; return false to stop.
    std::function<bool(int32_t, std::string_view)> on_token;
};

class Session {
public:
    explicit Session(const Model& model, const moevk_session_options& options = moevk_session_options_default()) {
        moevk_session* s = nullptr;
        check(moevk_session_create(model.get(), &options, &s));
        handle_.reset(s);
    }

    moevk_session* get() const { return handle_.get(); }

    void feed(std::span<const int32_t> tokens) { check(moevk_session_feed_tokens(get(), tokens.data(), tokens.size())); }
    void feed_chat(const std::vector<Message>& messages,
                   const moevk_chat_options& options = moevk_chat_options_default()) {
        std::vector<moevk_message> raw = Tokenizer::to_c(messages);
        check(moevk_session_feed_chat(get(), raw.data(), raw.size(), &options));
    }
    // Evaluates the pending input and `tokens`; returns tokens.size() x n_vocab logits when
    // `all_logits`, else nothing (read logits()).
    std::vector<float> eval(std::span<const int32_t> tokens, bool all_logits = false) {
        std::vector<float> out;
        if (all_logits) out.resize(tokens.size() * size_t(info().n_vocab));
        check(moevk_session_eval(get(), tokens.data(), tokens.size(), all_logits ? out.data() : nullptr));
        return out;
    }
    std::span<const float> logits() const {
        const float* p = nullptr;
        uint32_t n = 0;
        check(moevk_session_get_logits(get(), &p, &n));
        return {p, n};
    }
    int32_t sample() {
        int32_t t = 0;
        check(moevk_session_sample(get(), &t));
        return t;
    }
    void set_sampling(const moevk_sampling& sampling) { check(moevk_session_set_sampling(get(), &sampling)); }
    void reset() { check(moevk_session_reset(get())); }
    void truncate(uint32_t n_keep) { check(moevk_session_truncate(get(), n_keep)); }
    std::vector<int32_t> tokens() const {
        size_t n = 0;
        moevk_status s = moevk_session_get_tokens(get(), nullptr, 0, &n);
        if (s != MOEVK_ERROR_BUFFER_TOO_SMALL) check(s);
        std::vector<int32_t> ids(n);
        check(moevk_session_get_tokens(get(), ids.data(), ids.size(), &n));
        return ids;
    }

    moevk_generation generate(const Generate& g) {
        Call call(*this, g);
        auto result = detail::sized<moevk_generation>();
        moevk_status s = moevk_session_generate(get(), &call.options, &result);
        call.finish(s);
        return result;
    }
    // The frame-loop mode: start(), then step(budget) once per frame until result.done. The
    // Generate's callback is kept until the generation ends.
    void start(const Generate& g) {
        started_ = std::make_unique<Call>(*this, g);
        moevk_status s = moevk_session_start(get(), &started_->options);
        if (s != MOEVK_OK) started_.reset();
        check(s);
    }
    moevk_step_result step(uint32_t budget_us) {
        auto result = detail::sized<moevk_step_result>();
        moevk_status s = moevk_session_step(get(), budget_us, &result);
        settle(result, s);
        check(s);
        return result;
    }
    void stop() {
        check(moevk_session_stop(get()));
        started_.reset();
    }
    moevk_generation last_generation() const {
        auto g = detail::sized<moevk_generation>();
        check(moevk_session_last_generation(get(), &g));
        return g;
    }

    moevk_session_info info() const {
        auto i = detail::sized<moevk_session_info>();
        check(moevk_session_get_info(get(), &i));
        return i;
    }
    moevk_session_stats stats() const {
        auto s = detail::sized<moevk_session_stats>();
        check(moevk_session_get_stats(get(), &s));
        return s;
    }
    moevk_layer_stats layer_stats(uint32_t layer) const {
        auto s = detail::sized<moevk_layer_stats>();
        check(moevk_session_get_layer_stats(get(), layer, &s));
        return s;
    }
    // [n_layers][n_experts] tokens routed to each expert.
    std::vector<uint64_t> expert_counts(uint32_t n_layers, uint32_t n_experts) const {
        std::vector<uint64_t> counts(size_t(n_layers) * n_experts);
        check(moevk_session_get_expert_counts(get(), counts.data(), counts.size()));
        return counts;
    }
    // [n_layers][tokens][top_k] experts the last forward step selected; `tokens` gets its tokens.
    std::vector<uint32_t> last_experts(uint32_t n_layers, uint32_t top_k, uint32_t max_tokens, uint32_t& tokens) const {
        std::vector<uint32_t> ids(size_t(n_layers) * top_k * max_tokens);
        check(moevk_session_get_last_experts(get(), ids.data(), ids.size(), &tokens));
        ids.resize(size_t(n_layers) * top_k * tokens);
        return ids;
    }
    std::string paging_report() const {
        return detail::read_text([&](char* b, size_t c, size_t* l) { return moevk_session_paging_report(get(), b, c, l); });
    }
    void reset_stats() { check(moevk_session_reset_stats(get())); }

private:
    friend class Batch;
    // After a step of the started generation: a callback's exception is rethrown, and the
    // relay is dropped once the generation is done.
    void settle(const moevk_step_result& result, moevk_status s) {
        if (started_ && started_->error) {
            std::exception_ptr e = started_->error;
            if (result.done) started_.reset();
            std::rethrow_exception(e);
        }
        if (result.done || s != MOEVK_OK) started_.reset();
    }

    // One generation's C options and the relay from the C callback to the C++ one; an exception
    // thrown by the callback stops the generation and is rethrown to the caller.
    struct Call {
        Call(Session&, const Generate& g) : generate(g) {
            for (const std::string& s : generate.stop_strings) stops.push_back(s.c_str());
            options = moevk_generate_options_default();
            options.max_tokens = generate.max_tokens;
            options.stop_strings = stops.data();
            options.n_stop_strings = stops.size();
            options.ignore_eog = generate.ignore_eog;
            if (generate.on_token) {
                options.on_token = [](void* user, int32_t token, const char* text, size_t length) -> int {
                    auto* c = static_cast<Call*>(user);
                    try {
                        return c->generate.on_token(token, std::string_view(text, length)) ? 1 : 0;
                    } catch (...) {
                        c->error = std::current_exception();
                        return 0;
                    }
                };
                options.user = this;
            }
        }
        void finish(moevk_status s) {
            if (error) std::rethrow_exception(error);
            check(s);
        }
        Generate generate;
        std::vector<const char*> stops;
        moevk_generate_options options;
        std::exception_ptr error;
    };
    std::unique_ptr<moevk_session, detail::Deleter<moevk_session, moevk_session_destroy>> handle_;
    std::unique_ptr<Call> started_;
};

// Continuous batching (moevk_batch_step): step() moves every started generation of `sessions`
// by one forward step, the generated tokens of all of them in one step. A callback's exception
// is rethrown after every session was moved. When the step of some sessions failed, those report
// done with MOEVK_END_ERROR: with `failure` the others' results come back and the failure's
// message goes there; without it, it throws. A call refused as a whole (nothing ran) throws.
class Batch {
public:
    Batch(const Model& model, uint32_t max_sessions) {
        moevk_batch* b = nullptr;
        check(moevk_batch_create(model.get(), max_sessions, &b));
        handle_.reset(b);
    }

    moevk_batch* get() const { return handle_.get(); }

    std::vector<moevk_step_result> step(std::span<Session* const> sessions, std::string* failure = nullptr) {
        std::vector<moevk_session*> raw;
        for (Session* s : sessions) raw.push_back(s ? s->get() : nullptr);
        std::vector<moevk_step_result> results(sessions.size(), detail::sized<moevk_step_result>());
        moevk_status status = moevk_batch_step(get(), raw.data(), raw.size(), results.data());
        std::string message = status == MOEVK_OK ? "" : std::string(moevk_status_name(status)) + ": " + moevk_last_error();
        std::exception_ptr callback_error;
        bool some_failed = false;
        for (size_t i = 0; i < sessions.size(); ++i) {
            if (!sessions[i]) continue;
            some_failed |= results[i].done && results[i].end == MOEVK_END_ERROR;
            try {
                // A failure ends only the generations it reports done: the others' relays stay.
                sessions[i]->settle(results[i], results[i].done ? status : MOEVK_OK);
            } catch (...) {
                if (!callback_error) callback_error = std::current_exception();
            }
        }
        if (callback_error) std::rethrow_exception(callback_error);
        if (status != MOEVK_OK) {
            if (!failure || !some_failed) throw Exception(status, message);
            *failure = message;
        }
        return results;
    }

private:
    std::unique_ptr<moevk_batch, detail::Deleter<moevk_batch, moevk_batch_destroy>> handle_;
};

}  // namespace moevk
