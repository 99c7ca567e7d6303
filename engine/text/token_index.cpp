#include "text/token_index.h"

#include "gpu/error.h"
#include "gguf/printable.h"

namespace moevk::text {

TokenIndex::TokenIndex(const Vocab& vocab) {
    ids_.reserve(vocab.tokens.size());
    for (uint32_t id = 0; id < vocab.size(); ++id) {
        const std::string& text = vocab.tokens[id];
        if (text.empty()) continue;
        auto [it, added] = ids_.emplace(text, id);
        if (!added)
            throw Error(ErrorCode::BadFile, vocab.source + ": tokenizer.ggml.tokens: " + gguf::quote(text) +
                                                " is both token " + std::to_string(it->second) +
                                                " and token " + std::to_string(id));
    }
}

}  // namespace moevk::text
