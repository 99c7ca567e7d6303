#include "gguf/printable.h"

#include <cstdint>
#include <cstdio>

namespace moevk::gguf {
namespace {

void escape(std::string& out, uint8_t byte) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
}

// Length of the valid UTF-8 sequence of a printable code point starting at `s[i]`, or 0.
size_t printable_sequence(std::string_view s, size_t i) {
    const uint8_t b0 = static_cast<uint8_t>(s[i]);
    if (b0 >= 0x20 && b0 < 0x7f) return b0 == '\'' || b0 == '\\' ? 0 : 1;
    size_t n;
    uint32_t cp;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
        n = 2, cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
        n = 3, cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
        n = 4, cp = b0 & 0x07;
    } else {
        return 0;  // ASCII controls, continuation bytes, 0xc0/0xc1 (overlong) and 0xf5..0xff
    }
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        const uint8_t b = static_cast<uint8_t>(s[i + k]);
        if ((b & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (b & 0x3f);
    }
    const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
    const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
    const bool c1_control = cp >= 0x80 && cp <= 0x9f;
    if (overlong || surrogate || c1_control || cp > 0x10ffff) return 0;
    return n;
}

}  // namespace

std::string quote(std::string_view text) {
    std::string out = "'";
    out.reserve(text.size() + 2);
    for (size_t i = 0; i < text.size();) {
        size_t n = printable_sequence(text, i);
        if (n == 0) {
            escape(out, static_cast<uint8_t>(text[i]));
            ++i;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out + "'";
}

std::string number_text(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", value);
    return text;
}

}  // namespace moevk::gguf
