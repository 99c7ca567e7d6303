#include "text/whitespace.h"

#include <cstdint>

namespace moevk::text {
namespace {

// Decodes the code point of UTF-8 bytes `s` (one whole sequence); 0xFFFFFFFF for bytes that are
// not one, which is never a space, so malformed text is left as it is.
char32_t decode(std::string_view s) {
    const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
    if (s.size() == 1 && b(0) < 0x80) return b(0);
    if (s.size() == 2 && (b(0) & 0xE0) == 0xC0) return (b(0) & 0x1F) << 6 | (b(1) & 0x3F);
    if (s.size() == 3 && (b(0) & 0xF0) == 0xE0)
        return (b(0) & 0x0F) << 12 | (b(1) & 0x3F) << 6 | (b(2) & 0x3F);
    return 0xFFFFFFFF;
}

size_t lead_length(uint8_t lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    return 4;  // the spaces are all below U+10000; a 4-byte (or bad) sequence is not one
}

}  // namespace

bool is_python_space(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string_view python_strip(std::string_view s) {
    while (!s.empty()) {
        size_t n = lead_length(static_cast<uint8_t>(s.front()));
        if (n > s.size() || !is_python_space(decode(s.substr(0, n)))) break;
        s.remove_prefix(n);
    }
    while (!s.empty()) {
        // Back up over continuation bytes (at most three) to the sequence's first byte.
        size_t start = s.size() - 1;
        while (start > 0 && s.size() - start < 4 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80)
            --start;
        if (!is_python_space(decode(s.substr(start)))) break;
        s.remove_suffix(s.size() - start);
    }
    return s;
}

}  // namespace moevk::text
