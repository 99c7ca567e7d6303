#include "bpe_trainer.h"

#include "text/unicode.h"

namespace demo {

BpeVocabulary train_bpe(const std::map<std::string, uint64_t>& words, uint32_t n_merges) {
    auto symbol = [](uint8_t byte) {
        std::string s;
        moevk::text::append_utf8(s, moevk::text::byte_to_unicode(byte));
        return s;
    };
    BpeVocabulary v;
    for (int b = 0; b < 256; ++b) v.tokens.push_back(symbol(static_cast<uint8_t>(b)));

    struct Word {
        std::vector<std::string> symbols;
        uint64_t count;
    };
    std::vector<Word> spelled;
    for (const auto& [text, count] : words) {
        Word w{{}, count};
        for (unsigned char c : text) w.symbols.push_back(symbol(c));
        spelled.push_back(std::move(w));
    }

    for (uint32_t m = 0; m < n_merges; ++m) {
        std::map<std::pair<std::string, std::string>, uint64_t> pairs;
        for (const Word& w : spelled)
            for (size_t i = 0; i + 1 < w.symbols.size(); ++i) pairs[{w.symbols[i], w.symbols[i + 1]}] += w.count;
        auto best = pairs.end();
        for (auto it = pairs.begin(); it != pairs.end(); ++it)
            if (best == pairs.end() || it->second > best->second) best = it;  // first (smallest) wins ties
        if (best == pairs.end() || best->second < 2) break;
        const auto [left, right] = best->first;
        v.merges.push_back(left + " " + right);
        v.tokens.push_back(left + right);
        for (Word& w : spelled) {
            std::vector<std::string> merged;
            for (size_t i = 0; i < w.symbols.size(); ++i) {
                if (i + 1 < w.symbols.size() && w.symbols[i] == left && w.symbols[i + 1] == right) {
                    merged.push_back(left + right);
                    ++i;
                } else {
                    merged.push_back(w.symbols[i]);
                }
            }
            w.symbols = std::move(merged);
        }
    }
    return v;
}

}  // namespace demo
