// A tokenizer vocabulary as a GGUF file stores it (`tokenizer.ggml.*`), read and checked. Works
// on vocabulary-only files (no tensors) as well as on model files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace moevk::text {

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : uint8_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

enum class VocabModel {
    SentencePiece,  // "llama": scored pieces, U+2581 for spaces, <0xNN> byte fallback
    BytePairs,      // "gpt2": byte-level BPE with ranked merges and a pre-tokenizer
};

struct Vocab {
    std::string source;  // the file's path, for messages
    VocabModel model = VocabModel::SentencePiece;
    std::string pre;   // tokenizer.ggml.pre; empty when absent
    std::string name;  // general.name: llama.cpp keys a few per-model token rules on it
    std::vector<std::string> tokens;
    std::vector<float> scores;        // one per token; 0 where the file has none
    std::vector<TokenType> types;     // one per token; Normal where the file has none
    std::vector<std::string> merges;  // BPE: "left right", rank = index
    std::optional<uint32_t> bos, eos, eot, eom, unknown, padding;
    bool add_bos = false;
    bool add_eos = false;
    bool add_space_prefix = false;

    uint32_t size() const { return static_cast<uint32_t>(tokens.size()); }
};

// Reads and checks the vocabulary. Throws Error naming the file and key: Unsupported for a
// tokenizer model other than "llama" / "gpt2" or a pre-tokenizer moe-vk does not implement,
// BadFile for a missing key, arrays whose lengths disagree, a token type out of range or a
// special token id past the vocabulary. Absent keys take llama.cpp's defaults: SentencePiece
// has BOS 1, EOS 2, unknown 0, adds BOS and a space prefix; BPE adds BOS only for the Llama 3
// pre-tokenizers.
Vocab read_vocab(const gguf::File& file);

}  // namespace moevk::text
