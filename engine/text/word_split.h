// The three "word" expressions of the BPE pre-tokenizers (GPT-2, Llama 3 / Qwen2, GPT-4o) as
// hand-written scanners. Each cuts one piece into consecutive words that cover it, with the
// leftmost-first alternation order of the regular expression it stands for. Internal to
// pre_tokenizer.cpp.
#pragma once

#include <span>
#include <vector>

#include "text/pre_tokenizer.h"
#include "text/unicode.h"

namespace moevk::text::detail {

// The text being split, with each code point's category computed once.
struct SplitText {
    std::span<const uint32_t> cps;
    std::vector<CharInfo> info;

    explicit SplitText(std::span<const uint32_t> text);
};

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const SplitText& text, Piece piece, std::vector<Piece>& out);
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const SplitText& text, Piece piece, size_t max_digits, std::vector<Piece>& out);
// [^\r\n\p{L}\p{N}]?U*L+C?|[^\r\n\p{L}\p{N}]?U+L*C?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|
// \s*[\r\n]+|\s+(?!\S)|\s+   with U = a letter other than a-z, L = a letter other than A-Z and
// C = an ASCII contraction ('s, 't, 're, 've, 'm, 'll, 'd in either case).
void split_gpt4o(const SplitText& text, Piece piece, std::vector<Piece>& out);

}  // namespace moevk::text::detail
