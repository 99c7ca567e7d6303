// Token text -> id lookup over a vocabulary, without allocating for the query.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "text/vocab.h"

namespace moevk::text {

class TokenIndex {
  public:
    // Throws Error(BadFile) naming the file when two ids share a text (llama.cpp refuses such
    // vocabularies too). Empty texts are left out: nothing can match them.
    explicit TokenIndex(const Vocab& vocab);

    std::optional<uint32_t> find(std::string_view text) const {
        auto it = ids_.find(text);
        if (it == ids_.end()) return std::nullopt;
        return it->second;
    }

  private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> ids_;
};

}  // namespace moevk::text
