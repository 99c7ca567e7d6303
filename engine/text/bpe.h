// Byte-level BPE merges within one pre-tokenized word, as llama.cpp does for "gpt2"
// vocabularies: the word (already in GPT-2's byte alphabet) starts as one symbol per character,
// then the adjacent pair with the lowest merge rank is joined, repeatedly (ties go to the
// leftmost pair).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/token_index.h"

namespace moevk::text {

class BpeRanks {
  public:
    // `merges` are "left right" lines, rank = line number; the first line for a pair wins.
    explicit BpeRanks(const std::vector<std::string>& merges);
    // `key` is scratch space, so looking up allocates nothing once it has grown.
    std::optional<uint32_t> rank(std::string_view left, std::string_view right,
                                 std::string& key) const;

  private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> ranks_;  // "left right"
};

// Appends the tokens of one word. With `whole_words`, a word that is itself a token is taken
// as is (llama.cpp's ignore_merges, for Llama 3). A final symbol that is not a token is spelled
// byte by byte with the one-byte tokens that exist; bytes without one are dropped, as llama.cpp
// drops them.
void bpe_encode_word(std::string_view word, const TokenIndex& index, const BpeRanks& ranks,
                     bool whole_words, std::vector<uint32_t>& out);

}  // namespace moevk::text
