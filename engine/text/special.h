// Special tokens matched whole in the text before normal tokenisation, as llama.cpp's
// tokenizer_st_partition does: for each special token, longest first, every occurrence in the
// text not yet claimed becomes that token. Control and unknown tokens take part only when the
// caller asks to parse special tokens; user-defined tokens always do (Hugging Face's added
// tokens behave so).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moevk::text {

struct SpecialToken {
    std::string text;
    uint32_t id = 0;
    bool only_when_parsing = false;  // control / unknown
    bool rstrip = false;             // drop ASCII white space after it (llama.cpp's Phi-3 rule)
};

struct Fragment {
    size_t begin = 0, size = 0;     // the raw text, when token is empty
    std::optional<uint32_t> token;  // a special token
};

// `specials` must be sorted longest text first (ties in a fixed order).
std::vector<Fragment> split_special(std::string_view text, std::span<const SpecialToken> specials,
                                    bool parse_special);

}  // namespace moevk::text
