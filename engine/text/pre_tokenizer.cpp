#include "text/pre_tokenizer.h"

#include <algorithm>
#include <array>
#include <utility>

#include "text/word_split.h"

namespace moevk::text {

namespace {

using detail::SplitText;

struct Range {
    uint32_t first, last;
};

bool in(std::span<const Range> ranges, uint32_t cp) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const Range& r) { return cp >= r.first && cp <= r.last; });
}

// DeepSeek LLM's character classes, as its tokenizer.json writes them: a (partial) list of
// cased letters, ASCII and full-width punctuation with quotes and CJK full stops, and a CJK block
// list. The ranges are code point ranges as std::wregex compares them.
constexpr Range kDeepseekLetters[] = {
    {0x0041, 0x005A},   {0x0061, 0x007A},   {0x00B5, 0x00B5},   {0x00C0, 0x00D6},
    {0x00D8, 0x00F6},   {0x00F8, 0x01BA},   {0x01BC, 0x01BF},   {0x01C4, 0x0293},
    {0x0295, 0x02AF},   {0x0370, 0x0373},   {0x0376, 0x0377},   {0x037B, 0x037D},
    {0x037F, 0x037F},   {0x0386, 0x0386},   {0x0388, 0x038A},   {0x038C, 0x038C},
    {0x038E, 0x03A1},   {0x03A3, 0x03F5},   {0x03F7, 0x0481},   {0x048A, 0x052F},
    {0x0531, 0x0556},   {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
constexpr Range kDeepseekPunctuation[] = {
    {0x0021, 0x002F}, {0x003A, 0x007E}, {0xFF01, 0xFF0F},
    {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
};
constexpr Range kDeepseekCjk[] = {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}};

// llama.cpp runs expressions without \p{..} through std::wregex after replacing white space
// above ASCII by U+000B, so \s is ASCII white space plus those, and a replaced code point no
// longer matches a bracket range (U+3000 is in one).
uint32_t wregex_char(const SplitText& t, size_t i) {
    uint32_t cp = t.cps[i];
    return cp > 0x7F && t.info[i].whitespace ? 0x0B : cp;
}
bool wregex_space(const SplitText& t, size_t i) {
    uint32_t c = wregex_char(t, i);
    return c == ' ' || (c >= 0x09 && c <= 0x0D);
}

// Expressions with \p{..} run over a "collapsed" text where each code point above ASCII stands
// for its category, so \p{N} is ASCII digits plus non-ASCII numbers that are not white space.
bool collapsed_number(const SplitText& t, size_t i) {
    uint32_t cp = t.cps[i];
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return !t.info[i].whitespace && t.info[i].number();
}
// [\p{P}\$\+<=>\^~\|]: in the collapsed text \p{P} is llama.cpp's list of ASCII punctuation
// (!"#%&'()*,-./:;?@[\]_{}) plus non-ASCII punctuation; with the listed symbols that is every
// printable ASCII non-alphanumeric except the backquote.
bool default_punctuation(const SplitText& t, size_t i) {
    uint32_t cp = t.cps[i];
    if (cp < 0x80)
        return cp > 0x20 && cp < 0x7F && cp != '`' && !t.info[i].letter() && !t.info[i].number();
    return !t.info[i].whitespace && t.info[i].cls == CharClass::Punctuation;
}

// Applies one expression to every piece, as std::regex_iterator does: successive leftmost
// matches become pieces and so does the text between them. `match(t, p, end)` is the length of
// the match starting at p (0 for none).
template <typename Match>
std::vector<Piece> refine(const SplitText& t, const std::vector<Piece>& pieces, Match match) {
    std::vector<Piece> out;
    out.reserve(pieces.size());
    for (const Piece& piece : pieces) {
        size_t gap = piece.begin;
        for (size_t p = piece.begin; p < piece.end;) {
            size_t n = match(t, p, piece.end);
            if (n == 0) {
                ++p;
                continue;
            }
            if (p > gap) out.push_back({gap, p});
            out.push_back({p, p + n});
            p += n;
            gap = p;
        }
        if (piece.end > gap) out.push_back({gap, piece.end});
    }
    return out;
}

template <typename In>
size_t run_of(const SplitText& t, size_t p, size_t end, In in_class) {
    size_t q = p;
    while (q < end && in_class(t, q)) ++q;
    return q - p;
}

// \s?[X]+
template <typename In>
size_t space_then_run(const SplitText& t, size_t p, size_t end, In in_class) {
    if (wregex_space(t, p) && p + 1 < end && in_class(t, p + 1))
        return 1 + run_of(t, p + 1, end, in_class);
    return run_of(t, p, end, in_class);
}

template <typename Split>
std::vector<Piece> split_words(const SplitText& t, const std::vector<Piece>& pieces, Split split) {
    std::vector<Piece> out;
    out.reserve(pieces.size() * 2);
    for (const Piece& piece : pieces) split(t, piece, out);
    return out;
}

std::vector<Piece> split_default(const SplitText& t, std::vector<Piece> pieces) {
    pieces = refine(t, pieces, [](const SplitText& t, size_t p, size_t end) {
        return run_of(t, p, end, default_punctuation);
    });
    pieces = split_words(t, pieces, detail::split_gpt2);
    pieces = refine(t, pieces, [](const SplitText& t, size_t p, size_t end) {
        return run_of(t, p, end, collapsed_number);
    });
    // [0-9][0-9][0-9]
    return refine(t, pieces, [](const SplitText& t, size_t p, size_t end) -> size_t {
        auto digit = [&](size_t i) { return i < end && t.cps[i] >= '0' && t.cps[i] <= '9'; };
        return digit(p) && digit(p + 1) && digit(p + 2) ? 3 : 0;
    });
}

std::vector<Piece> split_deepseek_llm(const SplitText& t, std::vector<Piece> pieces) {
    auto letter = [](const SplitText& t, size_t i) {
        return in(kDeepseekLetters, wregex_char(t, i));
    };
    auto punct = [](const SplitText& t, size_t i) {
        return in(kDeepseekPunctuation, wregex_char(t, i));
    };
    auto cjk = [](const SplitText& t, size_t i) { return in(kDeepseekCjk, wregex_char(t, i)); };
    // [\r\n]
    pieces = refine(t, pieces, [](const SplitText& t, size_t p, size_t) -> size_t {
        return t.cps[p] == '\r' || t.cps[p] == '\n' ? 1 : 0;
    });
    pieces = refine(t, pieces, [&](const SplitText& t, size_t p, size_t end) {
        return space_then_run(t, p, end, letter);
    });
    pieces = refine(t, pieces, [&](const SplitText& t, size_t p, size_t end) {
        return space_then_run(t, p, end, punct);
    });
    // \s+$ : the white space that ends a piece.
    std::vector<Piece> trimmed;
    trimmed.reserve(pieces.size());
    for (const Piece& piece : pieces) {
        size_t q = piece.end;
        while (q > piece.begin && wregex_space(t, q - 1)) --q;
        if (q > piece.begin) trimmed.push_back({piece.begin, q});
        if (q < piece.end) trimmed.push_back({q, piece.end});
    }
    pieces = refine(t, trimmed, [&](const SplitText& t, size_t p, size_t end) {
        return run_of(t, p, end, cjk);
    });
    return refine(t, pieces, [](const SplitText& t, size_t p, size_t end) {
        return run_of(t, p, end, collapsed_number);
    });
}

struct Name {
    std::string_view name;
    PreTokenizer pre;
};

// The `tokenizer.ggml.pre` values llama.cpp maps to these expressions.
constexpr Name kNames[] = {
    {"default", PreTokenizer::Default},
    {"gpt-2", PreTokenizer::Gpt2},
    {"gpt2", PreTokenizer::Gpt2},
    {"phi-2", PreTokenizer::Gpt2},
    {"olmo", PreTokenizer::Gpt2},
    {"mpt", PreTokenizer::Gpt2},
    {"llama3", PreTokenizer::Llama3},
    {"llama-v3", PreTokenizer::Llama3},
    {"llama-bpe", PreTokenizer::Llama3},
    {"dbrx", PreTokenizer::Llama3Merged},
    {"smaug-bpe", PreTokenizer::Llama3Merged},
    {"qwen2", PreTokenizer::Qwen2},
    {"deepseek-r1-qwen", PreTokenizer::Qwen2},
    {"stablelm2", PreTokenizer::Qwen2},
    {"deepseek-llm", PreTokenizer::DeepseekLlm},
    {"gpt-4o", PreTokenizer::Gpt4o},
    {"llama4", PreTokenizer::Gpt4o},
};

}  // namespace

std::optional<PreTokenizer> pre_tokenizer_from_name(std::string_view name) {
    if (name.empty()) return PreTokenizer::Default;
    for (const Name& n : kNames)
        if (n.name == name) return n.pre;
    return std::nullopt;
}

std::string_view supported_pre_tokenizer_names() {
    return "default, gpt-2, gpt2, phi-2, olmo, mpt, llama3, llama-v3, llama-bpe, dbrx, smaug-bpe, "
           "qwen2, deepseek-r1-qwen, stablelm2, deepseek-llm, gpt-4o, llama4";
}

bool ignores_merges(PreTokenizer pre) {
    return pre == PreTokenizer::Llama3;
}

std::vector<Piece> pre_split(PreTokenizer pre, std::span<const uint32_t> text) {
    if (text.empty()) return {};
    const SplitText t(text);
    std::vector<Piece> whole{{0, text.size()}};
    switch (pre) {
        case PreTokenizer::Default:
            return split_default(t, std::move(whole));
        case PreTokenizer::Gpt2:
            return split_words(t, whole, detail::split_gpt2);
        case PreTokenizer::Llama3:
        case PreTokenizer::Llama3Merged:
            return split_words(t, whole, [](const SplitText& t, Piece p, std::vector<Piece>& out) {
                detail::split_llama3(t, p, 3, out);
            });
        case PreTokenizer::Qwen2:
            return split_words(t, whole, [](const SplitText& t, Piece p, std::vector<Piece>& out) {
                detail::split_llama3(t, p, 1, out);
            });
        case PreTokenizer::DeepseekLlm:
            return split_deepseek_llm(t, std::move(whole));
        case PreTokenizer::Gpt4o:
            return split_words(t, whole, detail::split_gpt4o);
    }
    return whole;
}

}  // namespace moevk::text
