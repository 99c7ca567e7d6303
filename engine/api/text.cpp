// Tokenizers, streaming detokenizers and chat templates.
#include "api/conversions.h"
#include "api/guard.h"
#include "api/handles.h"

using namespace moevk;
using namespace moevk::api;

namespace {

const char* vocab_kind(text::VocabModel m) { return m == text::VocabModel::SentencePiece ? "llama" : "gpt2"; }

uint32_t token_id(const text::Tokenizer& t, int32_t token, const char* function) {
    if (token < 0 || uint32_t(token) >= t.n_vocab())
        throw Error(ErrorCode::InvalidArgument, std::string(function) + ": token id " + std::to_string(token) +
                                                    " is outside the vocabulary of " + std::to_string(t.n_vocab()));
    return static_cast<uint32_t>(token);
}

void check_flags(uint32_t flags, uint32_t known, const char* function) {
    if (flags & ~known)
        throw Error(ErrorCode::InvalidArgument, std::string(function) + ": unknown flags " + std::to_string(flags & ~known));
}

}  // namespace

extern "C" {

moevk_status moevk_tokenizer_load(const char* path, moevk_tokenizer** tokenizer) {
    return guard([&] {
        moevk_tokenizer*& out = need(tokenizer, "moevk_tokenizer_load", "tokenizer");
        out = nullptr;
        gguf::File file = gguf::File::open(need_text(path, "moevk_tokenizer_load", "path"));
        out = new moevk_tokenizer(make_tokenizer(file));
    });
}

void moevk_tokenizer_destroy(moevk_tokenizer* tokenizer) { delete tokenizer; }

moevk_status moevk_tokenizer_get_info(const moevk_tokenizer* tokenizer, moevk_vocab_info* info) {
    return guard([&] {
        const moevk_tokenizer& t = need(tokenizer, "moevk_tokenizer_get_info", "tokenizer");
        moevk_vocab_info i{sizeof(moevk_vocab_info)};
        i.n_vocab = t.tokenizer.n_vocab();
        i.bos = t.tokenizer.bos() ? int32_t(*t.tokenizer.bos()) : -1;
        i.eos = t.tokenizer.eos() ? int32_t(*t.tokenizer.eos()) : -1;
        i.add_bos = t.tokenizer.add_bos();
        copy_name(i.kind, vocab_kind(t.tokenizer.vocab().model));
        copy_name(i.pre, t.tokenizer.vocab().pre);
        copy_name(i.chat_template, t.chat_template ? t.chat_template->name() : "");
        copy_name(i.template_error, t.template_error);
        write_struct(info, i, "moevk_tokenizer_get_info", "info");
    });
}

moevk_status moevk_tokenize(const moevk_tokenizer* tokenizer, const char* text, size_t length, uint32_t flags,
                            int32_t* tokens, size_t capacity, size_t* count) {
    return guard([&] {
        const char* fn = "moevk_tokenize";
        const moevk_tokenizer& t = need(tokenizer, fn, "tokenizer");
        need(count, fn, "count");
        if (length > 0) need(text, fn, "text");
        check_flags(flags, MOEVK_TOKENIZE_ADD_BOS | MOEVK_TOKENIZE_PARSE_SPECIAL | MOEVK_TOKENIZE_DEFAULT_BOS, fn);
        bool add_bos = (flags & MOEVK_TOKENIZE_ADD_BOS) || ((flags & MOEVK_TOKENIZE_DEFAULT_BOS) && t.tokenizer.add_bos());
        std::vector<uint32_t> ids =
            t.tokenizer.encode(std::string_view(text ? text : "", length), add_bos, flags & MOEVK_TOKENIZE_PARSE_SPECIAL);
        write_ids(ids, tokens, capacity, count, fn, "the text");
    });
}

moevk_status moevk_token_to_piece(const moevk_tokenizer* tokenizer, int32_t token, uint32_t flags, char* text,
                                  size_t capacity, size_t* length) {
    return guard([&] {
        const char* fn = "moevk_token_to_piece";
        const text::Tokenizer& t = need(tokenizer, fn, "tokenizer").tokenizer;
        check_flags(flags, MOEVK_TEXT_RENDER_SPECIAL, fn);
        write_text(t.token_text(token_id(t, token, fn), flags & MOEVK_TEXT_RENDER_SPECIAL), text, capacity, length, fn);
    });
}

moevk_status moevk_detokenize(const moevk_tokenizer* tokenizer, const int32_t* tokens, size_t count, uint32_t flags,
                              char* text, size_t capacity, size_t* length) {
    return guard([&] {
        const char* fn = "moevk_detokenize";
        const text::Tokenizer& t = need(tokenizer, fn, "tokenizer").tokenizer;
        check_flags(flags, MOEVK_TEXT_RENDER_SPECIAL, fn);
        std::vector<uint32_t> ids = to_tokens(tokens, count, fn);
        for (uint32_t id : ids) token_id(t, int32_t(id), fn);
        write_text(t.decode(ids, flags & MOEVK_TEXT_RENDER_SPECIAL), text, capacity, length, fn);
    });
}

int moevk_token_is_eog(const moevk_tokenizer* tokenizer, int32_t token) {
    if (!tokenizer || token < 0 || uint32_t(token) >= tokenizer->tokenizer.n_vocab()) return 0;
    return tokenizer->tokenizer.is_eog(uint32_t(token));
}

moevk_status moevk_detokenizer_create(const moevk_tokenizer* tokenizer, uint32_t flags, moevk_detokenizer** detokenizer) {
    return guard([&] {
        const char* fn = "moevk_detokenizer_create";
        moevk_detokenizer*& out = need(detokenizer, fn, "detokenizer");
        out = nullptr;
        const text::Tokenizer& t = need(tokenizer, fn, "tokenizer").tokenizer;
        check_flags(flags, MOEVK_TEXT_RENDER_SPECIAL | MOEVK_TEXT_CONTINUATION, fn);
        out = new moevk_detokenizer{
            text::Detokenizer(t, flags & MOEVK_TEXT_RENDER_SPECIAL, !(flags & MOEVK_TEXT_CONTINUATION))};
    });
}

void moevk_detokenizer_destroy(moevk_detokenizer* detokenizer) { delete detokenizer; }

moevk_status moevk_detokenizer_push(moevk_detokenizer* detokenizer, int32_t token, char* text, size_t capacity,
                                    size_t* length) {
    return guard([&] {
        const char* fn = "moevk_detokenizer_push";
        moevk_detokenizer& d = need(detokenizer, fn, "detokenizer");
        need(length, fn, "length");
        if (token < 0) throw Error(ErrorCode::InvalidArgument, std::string(fn) + ": token id " + std::to_string(token));
        // The text is taken out of the detokenizer only when the caller's buffer holds it, so a
        // caller that retries with a larger buffer loses nothing.
        moevk_detokenizer probe = d;
        std::string piece = probe.detokenizer.push(uint32_t(token));
        write_text(piece, text, capacity, length, fn);
        d = std::move(probe);
    });
}

moevk_status moevk_detokenizer_flush(moevk_detokenizer* detokenizer, char* text, size_t capacity, size_t* length) {
    return guard([&] {
        const char* fn = "moevk_detokenizer_flush";
        moevk_detokenizer& d = need(detokenizer, fn, "detokenizer");
        moevk_detokenizer probe = d;
        std::string rest = probe.detokenizer.flush();
        write_text(rest, text, capacity, length, fn);
        d = std::move(probe);
    });
}

moevk_chat_options moevk_chat_options_default(void) {
    moevk_chat_options o{sizeof(moevk_chat_options)};
    o.add_generation_prompt = 1;
    o.enable_thinking = -1;
    return o;
}

const char* moevk_chat_template_name(size_t index) {
    std::span<const std::string_view> names = text::ChatTemplate::names();
    // The names are string literals, so their data are NUL-terminated.
    return index < names.size() ? names[index].data() : nullptr;
}

moevk_status moevk_chat_render(const moevk_tokenizer* tokenizer, const moevk_message* messages, size_t count,
                               const moevk_chat_options* options, char* text, size_t capacity, size_t* length) {
    return guard([&] {
        const char* fn = "moevk_chat_render";
        const moevk_tokenizer& t = need(tokenizer, fn, "tokenizer");
        std::vector<text::ChatMessage> conversation = to_messages(messages, count, fn);
        ChatChoice chat = to_chat(t, options, fn);
        chat.options.bos_token = t.tokenizer.special_text(t.tokenizer.bos());
        chat.options.eos_token = t.tokenizer.special_text(t.tokenizer.eos());
        write_text(chat.chat_template.render(conversation, chat.options), text, capacity, length, fn);
    });
}

}  // extern "C"
