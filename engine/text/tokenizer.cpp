#include "text/tokenizer.h"

#include <algorithm>
#include <cctype>

#include "gpu/error.h"
#include "gguf/printable.h"
#include "text/bpe.h"
#include "text/detokenizer.h"
#include "text/pre_tokenizer.h"
#include "text/special.h"
#include "text/spm.h"
#include "text/token_index.h"
#include "text/unicode.h"

namespace moevk::text {

namespace {

// llama.cpp's token attributes: the file's type, plus what llama.cpp adds by token text.
enum Attr : uint16_t {
    kNormal = 1 << 0,
    kUnknown = 1 << 1,
    kControl = 1 << 2,
    kUserDefined = 1 << 3,
    kUnused = 1 << 4,
    kByte = 1 << 5,
    kRstrip = 1 << 6,
};

uint16_t attr_of(TokenType type) {
    switch (type) {
        case TokenType::Normal:
            return kNormal;
        case TokenType::Unknown:
            return kUnknown;
        case TokenType::Control:
            return kControl;
        case TokenType::UserDefined:
            return kUserDefined;
        case TokenType::Unused:
            return kUnused;
        case TokenType::Byte:
            return kByte;
        case TokenType::Undefined:
            return 0;
    }
    return 0;
}

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Texts llama.cpp treats as end of turn / end of generation whatever the file's token type
// (it also makes them control tokens). The first list picks EOT when the file names none.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<end_of_utterance>",
};
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",         "<|im_end|>", "<|end|>",    "<|return|>", "<|call|>", "<end_of_turn>",
    "<|endoftext|>",      "</s>",       "<|eom_id|>", "<EOT>",      "_<EOT>",   "<|end_of_text|>",
    "<end_of_utterance>",
};

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    for (size_t pos = 0;;) {
        size_t hit = s.find(from, pos);
        out.append(
            s.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
        if (hit == std::string_view::npos) return out;
        out.append(to);
        pos = hit + from.size();
    }
}

// BPE token text is in GPT-2's byte alphabet; a character outside it passes through as is
// (llama.cpp prints an "[UNK_BYTE_..]" marker instead).
std::string bytes_from_alphabet(std::string_view text) {
    std::string out;
    for (uint32_t cp : decode_utf8(text)) {
        if (std::optional<uint8_t> b = unicode_to_byte(cp))
            out += static_cast<char>(*b);
        else
            append_utf8(out, cp);
    }
    return out;
}

std::optional<uint8_t> byte_token_value(std::string_view text) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return std::nullopt;
    int hi = hex(text[3]), lo = hex(text[4]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<uint8_t>(hi * 16 + lo);
}

}  // namespace

struct Tokenizer::Impl {
    Vocab vocab;
    TokenIndex index;
    std::vector<uint16_t> attrs;
    std::vector<std::string> pieces;     // each token's text with special tokens shown
    std::vector<SpecialToken> specials;  // longest first
    std::vector<bool> eog;
    ByteTokens byte_tokens{};       // SentencePiece
    std::optional<BpeRanks> ranks;  // BPE
    PreTokenizer pre = PreTokenizer::Default;

    explicit Impl(Vocab v) : vocab(std::move(v)), index(vocab) {}

    void mark_special_texts();
    void apply_harmony_rules();
    void apply_name_rules();
    void build_specials();
    void build_pieces();
    void encode_spm(std::string_view text, std::span<const Fragment> fragments,
                    std::vector<uint32_t>& out) const;
    void encode_bpe(std::string_view text, std::span<const Fragment> fragments,
                    std::vector<uint32_t>& out) const;
};

void Tokenizer::Impl::mark_special_texts() {
    const uint32_t n = vocab.size();
    eog.assign(n, false);
    if (!vocab.eot) {
        for (std::string_view t : kEotTexts) {
            if (std::optional<uint32_t> id = index.find(t); id && (!vocab.eot || *id < *vocab.eot))
                vocab.eot = id;
        }
        if (vocab.eot) attrs[*vocab.eot] |= kControl;
    }
    if (!vocab.eom) {
        vocab.eom = index.find("<|eom_id|>");
        if (vocab.eom) attrs[*vocab.eom] |= kControl;
    }
    for (std::string_view t : kEogTexts) {
        if (std::optional<uint32_t> id = index.find(t)) {
            eog[*id] = true;
            attrs[*id] |= kControl;
        }
    }
    for (const std::optional<uint32_t>& id : {vocab.eos, vocab.eot, vocab.eom})
        if (id) eog[*id] = true;
}

// gpt-oss's o200k_harmony vocabulary, as llama.cpp treats it. The tags that head a reply's messages
// always print (user-defined), so the generated text holds them for a harmony splitter
// (harmony_reply.h); and where <|return|> and <|call|> end generation, <|end|>, which closes each
// message of a reply (the reasoning first), neither ends it nor hides. llama.cpp applies the first
// rule to these texts in any vocabulary, the second to the three together.
void Tokenizer::Impl::apply_harmony_rules() {
    for (std::string_view t : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})
        if (std::optional<uint32_t> id = index.find(t)) attrs[*id] = kUserDefined;
    std::optional<uint32_t> ret = index.find("<|return|>"), call = index.find("<|call|>"),
                            end = index.find("<|end|>");
    if (ret && call && end) {  // all three are end-of-generation texts (kEogTexts)
        eog[*end] = false;
        attrs[*end] = kUserDefined;
    }
}

// llama.cpp's per-model token rules keyed on general.name: Phi-3 strips white space after its
// special tokens (except <unk>, <s> and <|endoftext|>) and after </s>.
void Tokenizer::Impl::apply_name_rules() {
    std::string name = vocab.name;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (name.find("phi-3") == std::string::npos && name.find("phi3") == std::string::npos) return;
    for (uint32_t id = 0; id < vocab.size(); ++id)
        if (attrs[id] & (kControl | kUserDefined | kUnknown)) attrs[id] |= kRstrip;
    if (std::optional<uint32_t> id = index.find("</s>")) attrs[*id] |= kRstrip;
    for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"})
        if (std::optional<uint32_t> id = index.find(t))
            attrs[*id] &= static_cast<uint16_t>(~kRstrip);
}

void Tokenizer::Impl::build_specials() {
    for (uint32_t id = 0; id < vocab.size(); ++id) {
        const uint16_t a = attrs[id];
        if (!(a & (kControl | kUserDefined | kUnknown)) || vocab.tokens[id].empty()) continue;
        SpecialToken s;
        s.text = vocab.tokens[id];
        s.id = id;
        s.only_when_parsing = (a & (kControl | kUnknown)) != 0;
        s.rstrip = (a & kRstrip) != 0;
        specials.push_back(std::move(s));
    }
    std::stable_sort(
        specials.begin(), specials.end(),
        [](const SpecialToken& a, const SpecialToken& b) { return a.text.size() > b.text.size(); });
}

void Tokenizer::Impl::build_pieces() {
    pieces.resize(vocab.size());
    for (uint32_t id = 0; id < vocab.size(); ++id) {
        const uint16_t a = attrs[id];
        const std::string& t = vocab.tokens[id];
        if (a & (kUnknown | kControl | kUserDefined)) {
            pieces[id] = t;
        } else if (a & kNormal) {
            pieces[id] = vocab.model == VocabModel::SentencePiece ? replace_all(t, kSpaceMark, " ")
                                                                  : bytes_from_alphabet(t);
        } else if (a & kByte) {
            std::optional<uint8_t> b = byte_token_value(t);
            pieces[id] = b ? std::string(1, static_cast<char>(*b)) : t;
        }
        // Unused and undefined tokens stand for nothing.
    }
}

void Tokenizer::Impl::encode_spm(std::string_view text, std::span<const Fragment> fragments,
                                 std::vector<uint32_t>& out) const {
    // Each stretch of text that starts the input or follows a special token gets the space
    // prefix, as llama.cpp does.
    bool after_special = true;
    for (const Fragment& f : fragments) {
        if (f.token) {
            out.push_back(*f.token);
            after_special = true;
            continue;
        }
        std::string raw = vocab.add_space_prefix && after_special ? " " : "";
        raw.append(text.substr(f.begin, f.size));
        spm_encode(replace_all(raw, " ", kSpaceMark), index, vocab.scores, byte_tokens, out);
        after_special = false;
    }
}

void Tokenizer::Impl::encode_bpe(std::string_view text, std::span<const Fragment> fragments,
                                 std::vector<uint32_t>& out) const {
    const bool whole_words = ignores_merges(pre);
    std::string word;
    for (const Fragment& f : fragments) {
        if (f.token) {
            out.push_back(*f.token);
            continue;
        }
        const std::vector<uint32_t> cps = decode_utf8(text.substr(f.begin, f.size));
        for (const Piece& piece : pre_split(pre, cps)) {
            // Re-encode the piece (invalid input bytes are U+FFFD by now), then spell each byte
            // in the alphabet the merges are written in.
            std::string utf8;
            for (size_t i = piece.begin; i < piece.end; ++i) append_utf8(utf8, cps[i]);
            word.clear();
            for (char c : utf8) append_utf8(word, byte_to_unicode(static_cast<uint8_t>(c)));
            bpe_encode_word(word, index, *ranks, whole_words, out);
        }
    }
}

Tokenizer Tokenizer::from_file(const gguf::File& file) {
    return from_vocab(read_vocab(file));
}

Tokenizer Tokenizer::from_vocab(Vocab vocab) {
    // read_vocab checks files; a vocabulary built in code gets the checks indexing relies on.
    const size_t n = vocab.tokens.size();
    auto invalid = [&](const std::string& what) {
        throw Error(ErrorCode::InvalidArgument, vocab.source + ": " + what);
    };
    if (n == 0 || n >= (1u << 31)) invalid("no tokens, or too many");
    if (vocab.scores.size() != n || vocab.types.size() != n)
        invalid("scores and token types must be one per token");
    for (const std::optional<uint32_t>& id :
         {vocab.bos, vocab.eos, vocab.eot, vocab.eom, vocab.unknown, vocab.padding})
        if (id && *id >= n)
            invalid("special token id " + std::to_string(*id) + " is past the vocabulary");
    if (vocab.add_bos && !vocab.bos) invalid("add_bos without a BOS token");
    auto impl = std::make_unique<Impl>(std::move(vocab));
    Impl& m = *impl;
    m.attrs.reserve(m.vocab.size());
    for (TokenType t : m.vocab.types) m.attrs.push_back(attr_of(t));
    if (m.vocab.model == VocabModel::SentencePiece) {
        m.byte_tokens = spm_byte_tokens(m.vocab, m.index);
    } else {
        std::optional<PreTokenizer> pre = pre_tokenizer_from_name(m.vocab.pre);
        if (!pre)
            throw Error(ErrorCode::Unsupported, m.vocab.source + ": tokenizer.ggml.pre " +
                                                    gguf::quote(m.vocab.pre) + " is not supported");
        m.pre = *pre;
        m.ranks.emplace(m.vocab.merges);
    }
    m.mark_special_texts();
    m.apply_harmony_rules();
    m.apply_name_rules();
    m.build_specials();
    m.build_pieces();
    return Tokenizer(std::move(impl));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<uint32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                        bool parse_special) const {
    std::vector<uint32_t> out;
    if (add_bos) {
        if (!impl_->vocab.bos)
            throw Error(ErrorCode::InvalidArgument,
                        impl_->vocab.source + ": BOS asked for, but the vocabulary has none");
        out.push_back(*impl_->vocab.bos);
    }
    const std::vector<Fragment> fragments = split_special(text, impl_->specials, parse_special);
    if (impl_->vocab.model == VocabModel::SentencePiece)
        impl_->encode_spm(text, fragments, out);
    else
        impl_->encode_bpe(text, fragments, out);
    return out;
}

std::string Tokenizer::token_text(uint32_t id, bool render_special) const {
    if (id >= n_vocab())
        throw Error(ErrorCode::InvalidArgument, "token id " + std::to_string(id) +
                                                    " is past the vocabulary of " +
                                                    std::to_string(n_vocab()) + " tokens");
    if (!render_special && is_control(id)) return {};
    return impl_->pieces[id];
}

std::string Tokenizer::decode(std::span<const uint32_t> ids, bool render_special) const {
    Detokenizer d(*this, render_special);
    std::string out;
    for (uint32_t id : ids) out += d.push(id);
    out += d.flush();
    return out;
}

uint32_t Tokenizer::n_vocab() const {
    return impl_->vocab.size();
}
std::optional<uint32_t> Tokenizer::bos() const {
    return impl_->vocab.bos;
}
std::optional<uint32_t> Tokenizer::eos() const {
    return impl_->vocab.eos;
}
bool Tokenizer::add_bos() const {
    return impl_->vocab.add_bos;
}
bool Tokenizer::add_space_prefix() const {
    return impl_->vocab.add_space_prefix;
}
bool Tokenizer::is_eog(uint32_t id) const {
    return id < n_vocab() && impl_->eog[id];
}
bool Tokenizer::is_control(uint32_t id) const {
    return id < n_vocab() && (impl_->attrs[id] & (kControl | kUnknown)) != 0;
}
std::optional<uint32_t> Tokenizer::find_token(std::string_view text) const {
    return impl_->index.find(text);
}
const Vocab& Tokenizer::vocab() const {
    return impl_->vocab;
}

}  // namespace moevk::text
