// Text <-> token ids for a GGUF vocabulary, matching llama.cpp's llama_tokenize /
// llama_token_to_piece: SentencePiece-style ("llama") and byte-level BPE ("gpt2")
// vocabularies, special tokens, and the per-token text used to print generated tokens.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "text/vocab.h"

namespace moevk::text {

class Tokenizer {
  public:
    // Reads the vocabulary (see read_vocab for the errors) and builds the lookup tables.
    static Tokenizer from_file(const gguf::File& file);
    // Error InvalidArgument when the arrays are not one per token or an id is out of range.
    static Tokenizer from_vocab(Vocab vocab);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // The ids for `text`: BOS first when `add_bos` (Error InvalidArgument if the vocabulary has
    // none), never EOS. With `parse_special`, control tokens written in the text (e.g.
    // "<|im_start|>") become their ids; without it they are plain text. User-defined tokens
    // are always matched whole, as in llama.cpp.
    std::vector<uint32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

    // The bytes token `id` stands for: SentencePiece U+2581 as a space and <0xNN> as the byte,
    // BPE's byte alphabet as the bytes. Control and unknown tokens give "" unless
    // `render_special`, then their text; user-defined tokens always give their text (as do
    // gpt-oss's <|channel|>, <|message|>, <|start|>, <|constrain|> and <|end|>, as in llama.cpp,
    // so that a reply's text holds its harmony tags). May be
    // part of a UTF-8 character. Error InvalidArgument for an id past the vocabulary.
    std::string token_text(uint32_t id, bool render_special = false) const;
    // A special token's text as a chat template writes it (bos(), eos()); "" for none.
    std::string special_text(std::optional<uint32_t> id) const { return id ? token_text(*id, true) : std::string(); }
    // All of `ids` as text, as a Detokenizer (detokenizer.h) would give it.
    std::string decode(std::span<const uint32_t> ids, bool render_special = false) const;

    uint32_t n_vocab() const;
    std::optional<uint32_t> bos() const;
    std::optional<uint32_t> eos() const;
    // Whether the vocabulary asks for BOS before a prompt (tokenizer.ggml.add_bos_token).
    bool add_bos() const;
    // Whether SentencePiece text gets a leading space (tokenizer.ggml.add_space_prefix).
    bool add_space_prefix() const;
    // End of generation: EOS, EOT, EOM, and the tokens llama.cpp recognises as such by their
    // text ("<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<end_of_turn>", gpt-oss's "<|return|>"
    // and "<|call|>", ...). In a vocabulary with those two, "<|end|>" closes a message, not the
    // reply, and is not one.
    bool is_eog(uint32_t id) const;
    // Control and unknown tokens: those token_text hides unless asked.
    bool is_control(uint32_t id) const;
    std::optional<uint32_t> find_token(std::string_view text) const;
    const Vocab& vocab() const;

  private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace moevk::text
