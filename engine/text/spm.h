// SentencePiece-style encoding as llama.cpp does it for "llama" vocabularies: the text is cut
// into UTF-8 characters, then the adjacent pair whose concatenation is the best-scored
// vocabulary piece is merged, repeatedly (ties go to the leftmost pair), and whatever is left
// that is not a piece is spelled with <0xNN> byte tokens.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "text/token_index.h"
#include "text/vocab.h"

namespace moevk::text {

// The token for each byte value: <0xNN>, else the one-byte piece, else the unknown token.
using ByteTokens = std::array<std::optional<uint32_t>, 256>;
ByteTokens spm_byte_tokens(const Vocab& vocab, const TokenIndex& index);

// Appends the tokens of `text`, whose spaces the caller has already replaced by U+2581. Throws
// Error(InvalidArgument) for a byte the vocabulary cannot spell.
void spm_encode(std::string_view text, const TokenIndex& index, std::span<const float> scores,
                const ByteTokens& bytes, std::vector<uint32_t>& out);

}  // namespace moevk::text
