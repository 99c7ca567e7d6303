#include "text/unicode.h"

#include <utf8proc.h>

#include <array>

namespace moevk::text {

namespace {

bool is_white_space(uint32_t cp) {
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
    switch (cp) {
        case 0x85:
        case 0xA0:
        case 0x1680:
        case 0x2028:
        case 0x2029:
        case 0x202F:
        case 0x205F:
        case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

CharClass class_of(utf8proc_category_t category) {
    switch (category) {
        case UTF8PROC_CATEGORY_LU:
        case UTF8PROC_CATEGORY_LL:
        case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM:
        case UTF8PROC_CATEGORY_LO:
            return CharClass::Letter;
        case UTF8PROC_CATEGORY_MN:
        case UTF8PROC_CATEGORY_MC:
        case UTF8PROC_CATEGORY_ME:
            return CharClass::Mark;
        case UTF8PROC_CATEGORY_ND:
        case UTF8PROC_CATEGORY_NL:
        case UTF8PROC_CATEGORY_NO:
            return CharClass::Number;
        case UTF8PROC_CATEGORY_PC:
        case UTF8PROC_CATEGORY_PD:
        case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE:
        case UTF8PROC_CATEGORY_PI:
        case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO:
            return CharClass::Punctuation;
        case UTF8PROC_CATEGORY_SM:
        case UTF8PROC_CATEGORY_SC:
        case UTF8PROC_CATEGORY_SK:
        case UTF8PROC_CATEGORY_SO:
            return CharClass::Symbol;
        case UTF8PROC_CATEGORY_ZS:
        case UTF8PROC_CATEGORY_ZL:
        case UTF8PROC_CATEGORY_ZP:
            return CharClass::Separator;
        default:
            return CharClass::Other;
    }
}

// The alphabet both ways: printable ASCII, U+00A1..U+00AC and U+00AE..U+00FF map to themselves,
// the remaining bytes to U+0100 + n in byte order.
struct ByteAlphabet {
    std::array<uint32_t, 256> to_cp{};
    std::array<int16_t, 512> from_cp{};  // every alphabet code point is below U+0200

    ByteAlphabet() {
        from_cp.fill(-1);
        uint32_t next = 0x100;
        for (uint32_t b = 0; b < 256; ++b) {
            bool self = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            to_cp[b] = self ? b : next++;
            from_cp[to_cp[b]] = static_cast<int16_t>(b);
        }
    }
};

const ByteAlphabet& byte_alphabet() {
    static const ByteAlphabet alphabet;
    return alphabet;
}

}  // namespace

CharInfo char_info(uint32_t cp) {
    CharInfo info;
    info.whitespace = is_white_space(cp);
    if (cp < 0x80) {
        // The hot path: ASCII without a table lookup.
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
            info.cls = CharClass::Letter;
        else if (cp >= '0' && cp <= '9')
            info.cls = CharClass::Number;
        else if (cp == ' ')
            info.cls = CharClass::Separator;
        else if (cp < 0x20 || cp == 0x7F)
            info.cls = CharClass::Other;
        else
            info.cls = class_of(utf8proc_category(static_cast<utf8proc_int32_t>(cp)));
        return info;
    }
    if (cp > 0x10FFFF) return info;
    info.cls = class_of(utf8proc_category(static_cast<utf8proc_int32_t>(cp)));
    return info;
}

size_t utf8_sequence_length(uint8_t lead) {
    static constexpr uint8_t lengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lengths[lead >> 4];
}

std::vector<uint32_t> decode_utf8(std::string_view text) {
    std::vector<uint32_t> cps;
    cps.reserve(text.size());
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    const size_t n = text.size();
    auto continuation = [&](size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        uint32_t cp = 0xFFFD;
        size_t len = 1;
        if (b < 0x80) {
            cp = b;
        } else if ((b & 0xE0) == 0xC0) {
            if (continuation(i + 1)) cp = ((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu), len = 2;
        } else if ((b & 0xF0) == 0xE0) {
            if (continuation(i + 1) && continuation(i + 2))
                cp = ((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu), len = 3;
        } else if ((b & 0xF8) == 0xF0) {
            if (continuation(i + 1) && continuation(i + 2) && continuation(i + 3)) {
                cp = ((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
                     (s[i + 3] & 0x3Fu);
                len = 4;
                if (cp > 0x10FFFF) cp = 0xFFFD;
            }
        }
        cps.push_back(cp);
        i += len;
    }
    return cps;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

uint32_t byte_to_unicode(uint8_t byte) {
    return byte_alphabet().to_cp[byte];
}

std::optional<uint8_t> unicode_to_byte(uint32_t cp) {
    if (cp >= byte_alphabet().from_cp.size()) return std::nullopt;
    int16_t b = byte_alphabet().from_cp[cp];
    if (b < 0) return std::nullopt;
    return static_cast<uint8_t>(b);
}

}  // namespace moevk::text
