#include "text/spm.h"

#include <queue>

#include "gpu/error.h"
#include "text/unicode.h"

namespace moevk::text {

namespace {

struct Symbol {
    int prev = -1, next = -1;
    size_t begin = 0, size = 0;  // bytes of the text; size 0 once merged into its left neighbour
};

struct Pair {
    int left = 0, right = 0;
    float score = 0.0f;
    size_t size = 0;  // bytes of the merged piece when the pair was formed
};

// Best score first; among equal scores the leftmost pair.
struct Worse {
    bool operator()(const Pair& a, const Pair& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

}  // namespace

ByteTokens spm_byte_tokens(const Vocab& vocab, const TokenIndex& index) {
    ByteTokens bytes;
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        const char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        const char raw = static_cast<char>(b);
        bytes[b] = index.find(std::string_view(name, 6));
        if (!bytes[b]) bytes[b] = index.find(std::string_view(&raw, 1));
        if (!bytes[b]) bytes[b] = vocab.unknown;
    }
    return bytes;
}

void spm_encode(std::string_view text, const TokenIndex& index, std::span<const float> scores,
                const ByteTokens& bytes, std::vector<uint32_t>& out) {
    std::vector<Symbol> symbols;
    for (size_t pos = 0; pos < text.size();) {
        size_t len =
            std::min(utf8_sequence_length(static_cast<uint8_t>(text[pos])), text.size() - pos);
        Symbol s;
        s.begin = pos;
        s.size = len;
        s.prev = static_cast<int>(symbols.size()) - 1;
        pos += len;
        s.next = pos == text.size() ? -1 : static_cast<int>(symbols.size()) + 1;
        symbols.push_back(s);
    }

    std::priority_queue<Pair, std::vector<Pair>, Worse> queue;
    auto consider = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols[left];
        std::string_view merged = text.substr(l.begin, l.size + symbols[right].size);
        if (std::optional<uint32_t> id = index.find(merged))
            queue.push({left, right, scores[*id], merged.size()});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) consider(i - 1, i);

    while (!queue.empty()) {
        Pair p = queue.top();
        queue.pop();
        Symbol& l = symbols[p.left];
        Symbol& r = symbols[p.right];
        // A pair is stale once either side has merged with something else: symbols only grow,
        // so the sizes no longer add up.
        if (l.size == 0 || r.size == 0 || l.size + r.size != p.size) continue;
        l.size += r.size;
        r.size = 0;
        l.next = r.next;
        if (r.next >= 0) symbols[r.next].prev = p.left;
        consider(l.prev, p.left);
        consider(p.left, l.next);
    }

    // Every merged symbol is a vocabulary piece (pairs are only formed from pieces), so what is
    // not a piece here is a single character the vocabulary lacks: spell it in bytes.
    // (llama.cpp's resegment step also looks such text up among the merges it made, which can
    // never find it for the same reason.)
    for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
        std::string_view piece = text.substr(symbols[i].begin, symbols[i].size);
        if (std::optional<uint32_t> id = index.find(piece)) {
            out.push_back(*id);
            continue;
        }
        for (char c : piece) {
            const std::optional<uint32_t>& id = bytes[static_cast<uint8_t>(c)];
            if (!id)
                throw Error(ErrorCode::InvalidArgument,
                            "the vocabulary has no token for byte " +
                                std::to_string(static_cast<uint8_t>(c)) +
                                " (no <0xNN> token and no unknown token)");
            out.push_back(*id);
        }
    }
}

}  // namespace moevk::text
