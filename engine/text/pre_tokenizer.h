// Byte-level BPE pre-tokenizers: the regular expressions that cut text into words before merges
// run, one per `tokenizer.ggml.pre` family, hand-coded over Unicode categories (std::regex has
// no \p{L}). Each reproduces what llama.cpp's splitter produces for the same expression,
// including where llama.cpp's own matcher departs from the regex as written.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace moevk::text {

enum class PreTokenizer {
    // llama.cpp's fallback for a missing or "default" pre: punctuation runs, then the GPT-2
    // expression, then digit runs cut into threes.
    Default,
    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    Gpt2,
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
    // \s*[\r\n]+|\s+(?!\S)|\s+  (Llama 3; words that are whole tokens skip the merges)
    Llama3,
    // The Llama 3 expression as above (DBRX, Smaug), merges always applied.
    Llama3Merged,
    // The Llama 3 expression with \p{N} single digits (Qwen2, Qwen3, StableLM 2).
    Qwen2,
    // DeepSeek LLM: newlines, cased-letter runs, ASCII/CJK punctuation runs, trailing white
    // space, CJK runs and digit runs, each applied to the pieces the previous one left.
    DeepseekLlm,
    // GPT-4o / Llama 4 (o200k): words split at lower-to-upper case changes, \p{N}{1,3}.
    Gpt4o,
};

// The pre-tokenizer for a `tokenizer.ggml.pre` value (empty = absent), or nullopt when the name
// is not one moe-vk implements.
std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name);
// The names pre_tokenizer_from_name accepts, for error messages.
std::string_view supported_pre_tokenizer_names();
// Whether a word that is itself a vocabulary token is taken whole, without merges.
bool ignores_merges(PreTokenizer pre);

struct Piece {
    size_t begin = 0, end = 0;  // code point indices, [begin, end)
};

// Cuts `text` into consecutive non-empty pieces that cover it.
std::vector<Piece> pre_split(PreTokenizer pre, std::span<const uint32_t> text);

}  // namespace moevk::text
