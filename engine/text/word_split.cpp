#include "text/word_split.h"

namespace moevk::text::detail {

namespace {

// What the rules distinguish about one position; None is past the end of the piece, so a rule
// looking one ahead sees neither a letter nor anything else there.
enum class Kind : uint8_t { None, Letter, Number, Space, Other };

// A scanner over one piece: positions past `end` read as None.
class Scanner {
  public:
    Scanner(const SplitText& text, Piece piece, std::vector<Piece>& out)
        : text_(text), end_(piece.end), out_(out) {}

    size_t end() const { return end_; }
    uint32_t cp(size_t i) const { return i < end_ ? text_.cps[i] : 0xFFFFFFFFu; }
    Kind kind(size_t i) const {
        if (i >= end_) return Kind::None;
        const CharInfo& c = text_.info[i];
        if (c.whitespace) return Kind::Space;
        if (c.letter()) return Kind::Letter;
        if (c.number()) return Kind::Number;
        return Kind::Other;
    }
    bool is(size_t i, Kind k) const { return kind(i) == k; }
    bool newline(size_t i) const { return cp(i) == '\r' || cp(i) == '\n'; }

    void emit(size_t begin, size_t end) {
        if (end > begin) out_.push_back({begin, end});
    }

    // 's|'t|'re|'ve|'m|'ll|'d at i (ASCII case folded when asked): the length, or 0.
    size_t contraction(size_t i, bool any_case) const {
        if (cp(i) != '\'' || i + 1 >= end_) return 0;
        auto lower = [&](size_t j) {
            uint32_t c = cp(j);
            return any_case && c >= 'A' && c <= 'Z' ? c + 32 : c;
        };
        uint32_t c1 = lower(i + 1);
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
        if (i + 2 >= end_) return 0;
        uint32_t c2 = lower(i + 2);
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
            return 3;
        return 0;
    }

    size_t run(size_t i, Kind k) const {
        while (is(i, k)) ++i;
        return i;
    }

    // \s*[\r\n]+ | \s+(?!\S) | \s+ at i: the end of the match, or i when i is not white space.
    size_t white_space(size_t i) const {
        size_t j = i, after_newline = i;
        for (; is(j, Kind::Space); ++j)
            if (newline(j)) after_newline = j + 1;
        if (after_newline > i) return after_newline;
        // Leave the last space of a run that precedes a word to that word.
        if (j - i > 1 && j < end_) return j - 1;
        return j;
    }

  private:
    const SplitText& text_;
    size_t end_;
    std::vector<Piece>& out_;
};

}  // namespace

SplitText::SplitText(std::span<const uint32_t> text) : cps(text) {
    info.reserve(text.size());
    for (uint32_t cp : text) info.push_back(char_info(cp));
}

void split_gpt2(const SplitText& text, Piece piece, std::vector<Piece>& out) {
    Scanner s(text, piece, out);
    size_t p = piece.begin;
    while (p < s.end()) {
        if (size_t n = s.contraction(p, false)) {
            s.emit(p, p + n);
            p += n;
            continue;
        }
        // ` ?X+` for each class X: a space joins the run that follows it.
        const bool space = s.cp(p) == ' ';
        const Kind k = s.kind(space ? p + 1 : p);
        if (k == Kind::Letter || k == Kind::Number || k == Kind::Other) {
            size_t q = s.run(p + (space ? 1 : 0), k);
            s.emit(p, q);
            p = q;
            continue;
        }
        // GPT-2's expression has no [\r\n] rule: all white space is \s+(?!\S) or \s+.
        size_t j = p;
        while (s.is(j, Kind::Space)) ++j;
        size_t q = j - p > 1 && j < s.end() ? j - 1 : std::max(j, p + 1);
        s.emit(p, q);
        p = q;
    }
}

void split_llama3(const SplitText& text, Piece piece, size_t max_digits, std::vector<Piece>& out) {
    Scanner s(text, piece, out);
    size_t p = piece.begin;
    while (p < s.end()) {
        if (size_t n = s.contraction(p, true)) {
            s.emit(p, p + n);
            p += n;
            continue;
        }
        const Kind k = s.kind(p);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (!s.newline(p) && k != Kind::Number &&
            (k == Kind::Letter || s.is(p + 1, Kind::Letter))) {
            size_t q = s.run(p + 1, Kind::Letter);
            s.emit(p, q);
            p = q;
            continue;
        }
        // \p{N}{1,max_digits}
        if (k == Kind::Number) {
            size_t q = s.run(p, Kind::Number);
            for (; p < q; p = std::min(q, p + max_digits)) s.emit(p, std::min(q, p + max_digits));
            continue;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`. A space that ends the piece is taken here alone, which
        // is what \s+ would have matched.
        const bool space = s.cp(p) == ' ';
        const Kind k2 = space ? s.kind(p + 1) : k;
        if (k2 == Kind::Other || k2 == Kind::None) {
            size_t q = s.run(p + (space ? 1 : 0), Kind::Other);
            while (s.newline(q)) ++q;
            s.emit(p, q);
            p = q;
            continue;
        }
        size_t q = std::max(s.white_space(p), p + 1);
        s.emit(p, q);
        p = q;
    }
}

void split_gpt4o(const SplitText& text, Piece piece, std::vector<Piece>& out) {
    Scanner s(text, piece, out);
    // The cased classes as llama.cpp's adapted expression has them: (?=\p{L})[^a-z] and
    // (?=\p{L})[^A-Z], so a letter outside ASCII is both upper and lower.
    auto upper = [&](size_t i) {
        return s.is(i, Kind::Letter) && !(s.cp(i) >= 'a' && s.cp(i) <= 'z');
    };
    auto lower = [&](size_t i) {
        return s.is(i, Kind::Letter) && !(s.cp(i) >= 'A' && s.cp(i) <= 'Z');
    };
    size_t p = piece.begin;
    while (p < s.end()) {
        const Kind k = s.kind(p);
        // The two word alternatives, with an optional leading non-letter, non-digit.
        const bool lead = k != Kind::Letter && k != Kind::Number && !s.newline(p);
        const size_t w = lead ? p + 1 : p;
        if (s.is(w, Kind::Letter)) {
            size_t u = w;
            while (upper(u)) ++u;
            // U*L+: the longest run of uppers that still leaves a lower after it, then the
            // lowers; failing that U+L* (all uppers, no lower can follow).
            size_t q = u;
            for (size_t j = u + 1; j-- > w;) {
                if (lower(j)) {
                    q = j;
                    while (lower(q)) ++q;
                    break;
                }
            }
            q += s.contraction(q, true);
            s.emit(p, q);
            p = q;
            continue;
        }
        if (k == Kind::Number) {
            size_t q = std::min(s.run(p, Kind::Number), p + 3);
            s.emit(p, q);
            p = q;
            continue;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
        const bool space = s.cp(p) == ' ' && s.is(p + 1, Kind::Other);
        if (space || k == Kind::Other) {
            size_t q = s.run(p + (space ? 1 : 0), Kind::Other);
            while (s.newline(q) || s.cp(q) == '/') ++q;
            s.emit(p, q);
            p = q;
            continue;
        }
        size_t q = std::max(s.white_space(p), p + 1);
        s.emit(p, q);
        p = q;
    }
}

}  // namespace moevk::text::detail
