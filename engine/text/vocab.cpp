#include "text/vocab.h"

#include "gpu/error.h"
#include "gguf/printable.h"
#include "text/pre_tokenizer.h"

namespace moevk::text {

namespace {

[[noreturn]] void bad(const std::string& path, std::string_view key, const std::string& what) {
    throw Error(ErrorCode::BadFile, path + ": " + std::string(key) + ": " + what);
}

std::optional<uint32_t> token_id(const gguf::File& f, std::string_view key, uint32_t n_tokens) {
    std::optional<uint64_t> id = f.get_uint(key);
    if (id && *id >= n_tokens)
        bad(f.path(), key,
            "token id " + std::to_string(*id) + " is past the vocabulary of " +
                std::to_string(n_tokens) + " tokens");
    return id ? std::optional<uint32_t>(static_cast<uint32_t>(*id)) : std::nullopt;
}

void check_length(const gguf::File& f, std::string_view key, size_t n, size_t n_tokens) {
    if (n != n_tokens)
        bad(f.path(), key,
            "has " + std::to_string(n) + " entries for " + std::to_string(n_tokens) + " tokens");
}

}  // namespace

Vocab read_vocab(const gguf::File& f) {
    Vocab v;
    v.source = f.path();
    const std::string model = f.require_string("tokenizer.ggml.model");
    if (model == "llama") {
        v.model = VocabModel::SentencePiece;
    } else if (model == "gpt2") {
        v.model = VocabModel::BytePairs;
    } else {
        throw Error(ErrorCode::Unsupported,
                    f.path() + ": tokenizer.ggml.model " + gguf::quote(model) +
                        " is not supported (moe-vk reads 'llama' and 'gpt2')");
    }
    v.pre = f.get_string("tokenizer.ggml.pre").value_or("");
    v.name = f.get_string("general.name").value_or("");

    std::optional<std::vector<std::string>> tokens = f.get_strings("tokenizer.ggml.tokens");
    if (!tokens) bad(f.path(), "tokenizer.ggml.tokens", "missing");
    if (tokens->empty()) bad(f.path(), "tokenizer.ggml.tokens", "no tokens");
    if (tokens->size() >= (1u << 31)) bad(f.path(), "tokenizer.ggml.tokens", "too many tokens");
    v.tokens = std::move(*tokens);
    const size_t n = v.tokens.size();

    if (std::optional<std::vector<double>> scores = f.get_floats("tokenizer.ggml.scores")) {
        check_length(f, "tokenizer.ggml.scores", scores->size(), n);
        v.scores.assign(scores->begin(), scores->end());
    } else {
        v.scores.assign(n, 0.0f);
    }
    if (std::optional<std::vector<int64_t>> types = f.get_ints("tokenizer.ggml.token_type")) {
        check_length(f, "tokenizer.ggml.token_type", types->size(), n);
        v.types.reserve(n);
        for (size_t i = 0; i < n; ++i) {
            int64_t t = (*types)[i];
            if (t < 0 || t > static_cast<int64_t>(TokenType::Byte))
                bad(f.path(), "tokenizer.ggml.token_type",
                    "token " + std::to_string(i) + " has type " + std::to_string(t) +
                        " (0..6 expected)");
            v.types.push_back(static_cast<TokenType>(t));
        }
    } else {
        v.types.assign(n, TokenType::Normal);
    }

    const uint32_t n_tokens = static_cast<uint32_t>(n);
    v.bos = token_id(f, "tokenizer.ggml.bos_token_id", n_tokens);
    v.eos = token_id(f, "tokenizer.ggml.eos_token_id", n_tokens);
    v.eot = token_id(f, "tokenizer.ggml.eot_token_id", n_tokens);
    v.eom = token_id(f, "tokenizer.ggml.eom_token_id", n_tokens);
    v.unknown = token_id(f, "tokenizer.ggml.unknown_token_id", n_tokens);
    v.padding = token_id(f, "tokenizer.ggml.padding_token_id", n_tokens);

    if (v.model == VocabModel::SentencePiece) {
        // llama.cpp's defaults for SentencePiece vocabularies that do not name their specials.
        auto fallback = [&](std::optional<uint32_t>& id, uint32_t value) {
            if (!id && value < n_tokens) id = value;
        };
        fallback(v.bos, 1);
        fallback(v.eos, 2);
        fallback(v.unknown, 0);
        v.add_bos = true;
        v.add_space_prefix = true;
    } else {
        std::optional<std::vector<std::string>> merges = f.get_strings("tokenizer.ggml.merges");
        if (!merges)
            bad(f.path(), "tokenizer.ggml.merges", "missing (a gpt2 vocabulary needs its merges)");
        v.merges = std::move(*merges);
        std::optional<PreTokenizer> pre = pre_tokenizer_from_name(v.pre);
        if (!pre)
            throw Error(ErrorCode::Unsupported, f.path() + ": tokenizer.ggml.pre " + gguf::quote(v.pre) +
                                                    " is not supported (moe-vk has: " +
                                                    std::string(supported_pre_tokenizer_names()) +
                                                    ")");
        v.add_bos = *pre == PreTokenizer::Llama3;
    }
    v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(v.add_bos);
    v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token").value_or(v.add_eos);
    v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(v.add_space_prefix);
    if (v.add_bos && !v.bos)
        bad(f.path(), "tokenizer.ggml.add_bos_token",
            "is true but tokenizer.ggml.bos_token_id is not set");
    if (v.add_eos && !v.eos)
        bad(f.path(), "tokenizer.ggml.add_eos_token",
            "is true but tokenizer.ggml.eos_token_id is not set");
    return v;
}

}  // namespace moevk::text
