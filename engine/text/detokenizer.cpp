#include "text/detokenizer.h"

namespace moevk::text {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The UTF-8 sequence starting at s[i], by the Unicode well-formedness table (no overlong forms,
// surrogates or code points past U+10FFFF).
enum class Seq { Complete, Incomplete, Invalid };
Seq check_sequence(std::string_view s, size_t i, size_t& length) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    uint8_t lo = 0x80, hi = 0xBF;  // the range allowed for the second byte
    if (b0 < 0x80) {
        length = 1;
        return Seq::Complete;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        length = 1;
        return Seq::Invalid;
    }
    for (size_t k = 1; k < length; ++k) {
        if (i + k >= s.size()) {
            length = k;  // what is there so far, all of it valid
            return Seq::Incomplete;
        }
        const auto b = static_cast<uint8_t>(s[i + k]);
        const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
        if (!ok) {
            length = k;  // the lead and the valid bytes after it: one replacement for all
            return Seq::Invalid;
        }
    }
    return Seq::Complete;
}

}  // namespace

Detokenizer::Detokenizer(const Tokenizer& tokenizer, bool render_special, bool at_text_start)
    : tokenizer_(&tokenizer),
      render_special_(render_special),
      strip_space_(at_text_start && tokenizer.add_space_prefix()) {}

std::string Detokenizer::push(uint32_t id) {
    std::string piece = tokenizer_->token_text(id, render_special_);
    if (strip_space_ && !piece.empty()) {
        if (piece[0] == ' ') piece.erase(0, 1);
        strip_space_ = false;
    }
    pending_ += piece;

    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        size_t length = 0;
        Seq seq = check_sequence(pending_, i, length);
        if (seq == Seq::Incomplete) break;  // hold the start of a character for the next token
        if (seq == Seq::Complete)
            out.append(pending_, i, length);
        else
            out += kReplacement;
        i += length;
    }
    pending_.erase(0, i);
    return out;
}

std::string Detokenizer::flush() {
    if (pending_.empty()) return {};
    pending_.clear();
    return std::string(kReplacement);
}

}  // namespace moevk::text
