// Learns byte-level BPE merges from a corpus, the way GPT-2's vocabulary was made: words cut by
// the GPT-2 pre-tokenizer, spelled in its byte alphabet, and the most frequent adjacent pair
// merged again and again.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace demo {

struct BpeVocabulary {
    std::vector<std::string> tokens;  // the 256 byte symbols, then one token per merge
    std::vector<std::string> merges;  // "left right", in rank order
};

// `words` maps each word (UTF-8 bytes) to its count. Stops after `n_merges` merges or when no
// pair occurs twice. Ties go to the smaller pair, so the result depends on the corpus alone.
BpeVocabulary train_bpe(const std::map<std::string, uint64_t>& words, uint32_t n_merges);

}  // namespace demo
