// Token ids on a command line, "1,557,541": decimal integers separated by commas. Parsed here
// rather than by CLI11's list splitting, which reads `--tokens ''` as token 0 and skips the empty
// piece in `1,,2`; a typo must be refused, naming the piece.
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

namespace moevk::apps {

// The ids, or the reason the text is not a list of them.
inline std::string parse_token_ids(const std::string& text, std::vector<int32_t>& ids) {
    ids.clear();
    size_t start = 0;
    for (;;) {
        size_t comma = text.find(',', start);
        std::string piece = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (piece.empty()) return text.empty() ? "an empty token id list" : "an empty token id in '" + text + "'";
        int64_t value = 0;
        auto [end, ec] = std::from_chars(piece.data(), piece.data() + piece.size(), value);
        if (ec != std::errc() || end != piece.data() + piece.size())
            return "'" + piece + "' is not a token id";
        if (value < INT32_MIN || value > INT32_MAX) return "token id " + piece + " is out of range";
        ids.push_back(static_cast<int32_t>(value));
        if (comma == std::string::npos) return "";
        start = comma + 1;
    }
}

// A string option holding token ids, refused at parse time when it is not a list of them.
inline CLI::Option* add_token_ids_option(CLI::App& app, const std::string& name, std::string& text,
                                         const std::string& help) {
    return app.add_option(name, text, help)->check(CLI::Validator(
        [](const std::string& v) {
            std::vector<int32_t> ids;
            return parse_token_ids(v, ids);
        },
        "IDS"));
}

}  // namespace moevk::apps
