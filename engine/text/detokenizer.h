// Streaming token ids -> text for printing generated tokens as they come.
#pragma once

#include <cstdint>
#include <string>

#include "text/tokenizer.h"

namespace moevk::text {

// Turns a stream of token ids into text that is always whole UTF-8: the bytes of a character
// split across tokens (e.g. an emoji spelled as four <0xNN> tokens) are held back until it is
// complete. Bytes that cannot form a character come out as U+FFFD.
//
// Leading space: SentencePiece vocabularies with a space prefix encode "Hello" as "▁Hello";
// like llama.cpp's detokenizer, the first token's leading space is dropped when the stream
// starts at the beginning of a text. (llama.cpp lets a leading BOS use up that one strip; here
// it applies to the first token that produces text, so decode(encode(s, add_bos)) == s.)
// Pass at_text_start = false to continue a text instead, e.g. for tokens generated after a
// prompt.
class Detokenizer {
  public:
    explicit Detokenizer(const Tokenizer& tokenizer, bool render_special = false,
                         bool at_text_start = true);

    // The text that is complete after `id`.
    std::string push(uint32_t id);
    // Whatever is held back (an incomplete character, as U+FFFD).
    std::string flush();

  private:
    const Tokenizer* tokenizer_;
    bool render_special_;
    bool strip_space_;
    std::string pending_;
};

}  // namespace moevk::text
