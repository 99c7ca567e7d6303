// Models with random weights built in memory for the whole-model tests, and token ids to feed
// them.
#pragma once

#include <memory>
#include <vector>

#include "gguf/gguf.h"
#include "model/model_file.h"
#include "model/synthetic.h"

namespace moevk::test {

// A file built in memory, kept alive beside the File that parses it.
struct GeneratedModel {
    std::vector<uint8_t> bytes;
    std::unique_ptr<model::ModelFile> model;
};

inline GeneratedModel generate(const model::SyntheticSpec& spec) {
    GeneratedModel g;
    g.bytes = model::synthetic_model(spec).bytes();
    g.model = std::make_unique<model::ModelFile>(
        model::ModelFile::from(gguf::File::parse(g.bytes, "synthetic " + spec.architecture)));
    return g;
}

// n ids spread over the vocabulary, a different spread per seed.
inline std::vector<uint32_t> some_tokens(uint32_t n, uint32_t n_vocab, uint32_t seed) {
    std::vector<uint32_t> t(n);
    for (uint32_t i = 0; i < n; ++i) t[i] = (seed * 7919u + i * 104729u) % n_vocab;
    return t;
}

}  // namespace moevk::test
