// The Unicode facts the tokenizers need: UTF-8 decoding as llama.cpp does it, each code point's
// general category (from libutf8proc) and whether it is white space, and GPT-2's byte-to-unicode
// alphabet.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moevk::text {

// A code point's general category, in the classes the pre-tokenizer rules test (\p{L}, \p{N},
// ...). Unassigned code points count as Other, as in llama.cpp's tables (generated from
// Python's `regex` \p{C}, which includes Cn).
enum class CharClass : uint8_t { Letter, Number, Mark, Punctuation, Symbol, Separator, Other };

struct CharInfo {
    CharClass cls = CharClass::Other;
    bool whitespace = false;  // Unicode White_Space: \t..\r, space, U+0085, U+00A0, U+1680, ...

    bool letter() const { return cls == CharClass::Letter; }
    bool number() const { return cls == CharClass::Number; }
};

CharInfo char_info(uint32_t cp);

// Bytes in the UTF-8 sequence that `lead` starts, from its high four bits alone (1 for a stray
// continuation byte), as llama.cpp splits text into symbols.
size_t utf8_sequence_length(uint8_t lead);

// Decodes UTF-8 as llama.cpp does: a sequence is judged by its lead byte and continuation bytes
// only (overlong forms and surrogates pass), and each byte that does not start a well-formed
// sequence becomes U+FFFD. Sequences above U+10FFFF (lead bytes F5..F7) also become U+FFFD.
std::vector<uint32_t> decode_utf8(std::string_view text);
void append_utf8(std::string& out, uint32_t cp);

// GPT-2's reversible byte <-> code point alphabet: printable Latin-1 bytes stand for themselves,
// the other 68 bytes for U+0100.. in byte order, so every byte string is printable text.
uint32_t byte_to_unicode(uint8_t byte);
std::optional<uint8_t> unicode_to_byte(uint32_t cp);

}  // namespace moevk::text
