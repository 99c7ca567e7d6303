#include "text/special.h"

#include <array>

namespace moevk::text {

namespace {

bool ascii_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

// Cuts one raw fragment at every occurrence of `special`, left to right.
void cut(std::string_view text, const Fragment& raw, const SpecialToken& special,
         std::vector<Fragment>& out) {
    size_t pos = raw.begin;
    const size_t end = raw.begin + raw.size;
    const std::string_view scope = text.substr(0, end);
    while (pos < end) {
        size_t match = scope.find(special.text, pos);
        if (match == std::string_view::npos) break;
        if (match > pos) out.push_back({pos, match - pos, std::nullopt});
        out.push_back({match, special.text.size(), special.id});
        pos = match + special.text.size();
        if (special.rstrip)
            while (pos < end && ascii_space(text[pos])) ++pos;
    }
    if (pos < end) out.push_back({pos, end - pos, std::nullopt});
}

}  // namespace

std::vector<Fragment> split_special(std::string_view text, std::span<const SpecialToken> specials,
                                    bool parse_special) {
    std::vector<Fragment> fragments;
    if (text.empty()) return fragments;
    fragments.push_back({0, text.size(), std::nullopt});
    // A token can only occur if its first byte does: a cheap filter for vocabularies with
    // thousands of added tokens.
    std::array<bool, 256> present{};
    for (char c : text) present[static_cast<uint8_t>(c)] = true;

    std::vector<Fragment> next;
    for (const SpecialToken& special : specials) {
        if (special.only_when_parsing && !parse_special) continue;
        if (special.text.empty() || !present[static_cast<uint8_t>(special.text[0])]) continue;
        if (special.text.size() > text.size()) continue;
        next.clear();
        for (const Fragment& f : fragments) {
            if (f.token)
                next.push_back(f);
            else
                cut(text, f, special, next);
        }
        fragments.swap(next);
    }
    return fragments;
}

}  // namespace moevk::text
