#include "text/bpe.h"

#include <queue>

#include "text/unicode.h"

namespace moevk::text {

namespace {

struct Symbol {
    int prev = -1, next = -1;
    size_t begin = 0, size = 0;  // bytes of the word; size 0 once merged into its left neighbour
};

struct Pair {
    int left = 0, right = 0;
    uint32_t rank = 0;
    size_t size = 0;  // bytes of the merged text when the pair was formed
};

// Lowest rank first; among equal ranks the leftmost pair.
struct Worse {
    bool operator()(const Pair& a, const Pair& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

}  // namespace

BpeRanks::BpeRanks(const std::vector<std::string>& merges) {
    ranks_.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
        // llama.cpp splits at the first space after the first byte; a line without one names
        // no pair a lookup could ask for.
        if (merges[i].find(' ', 1) == std::string::npos) continue;
        ranks_.emplace(merges[i], static_cast<uint32_t>(i));
    }
}

std::optional<uint32_t> BpeRanks::rank(std::string_view left, std::string_view right,
                                       std::string& key) const {
    key.assign(left);
    key += ' ';
    key += right;
    auto it = ranks_.find(std::string_view(key));
    if (it == ranks_.end()) return std::nullopt;
    return it->second;
}

void bpe_encode_word(std::string_view word, const TokenIndex& index, const BpeRanks& ranks,
                     bool whole_words, std::vector<uint32_t>& out) {
    if (word.empty()) return;
    if (whole_words) {
        if (std::optional<uint32_t> id = index.find(word)) {
            out.push_back(*id);
            return;
        }
    }
    std::vector<Symbol> symbols;
    for (size_t pos = 0; pos < word.size();) {
        size_t len =
            std::min(utf8_sequence_length(static_cast<uint8_t>(word[pos])), word.size() - pos);
        Symbol s;
        s.begin = pos;
        s.size = len;
        s.prev = static_cast<int>(symbols.size()) - 1;
        pos += len;
        s.next = pos == word.size() ? -1 : static_cast<int>(symbols.size()) + 1;
        symbols.push_back(s);
    }

    std::string key;
    std::priority_queue<Pair, std::vector<Pair>, Worse> queue;
    auto consider = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const Symbol& l = symbols[left];
        const Symbol& r = symbols[right];
        if (std::optional<uint32_t> rank =
                ranks.rank(word.substr(l.begin, l.size), word.substr(r.begin, r.size), key))
            queue.push({left, right, *rank, l.size + r.size});
    };
    for (int i = 1; i < static_cast<int>(symbols.size()); ++i) consider(i - 1, i);

    while (!queue.empty()) {
        Pair p = queue.top();
        queue.pop();
        Symbol& l = symbols[p.left];
        Symbol& r = symbols[p.right];
        // Symbols only grow, so a pair whose sizes no longer add up has gone stale.
        if (l.size == 0 || r.size == 0 || l.size + r.size != p.size) continue;
        l.size += r.size;
        r.size = 0;
        l.next = r.next;
        if (r.next >= 0) symbols[r.next].prev = p.left;
        consider(l.prev, p.left);
        consider(p.left, l.next);
    }

    for (int i = 0; i != -1; i = symbols[i].next) {
        std::string_view piece = word.substr(symbols[i].begin, symbols[i].size);
        if (std::optional<uint32_t> id = index.find(piece)) {
            out.push_back(*id);
            continue;
        }
        for (size_t b = 0; b < piece.size(); ++b)
            if (std::optional<uint32_t> id = index.find(piece.substr(b, 1))) out.push_back(*id);
    }
}

}  // namespace moevk::text
