// Metadata keys that change what a forward pass computes, but that moe-vk does not implement
// (RoPE scaling, sliding-window attention, soft-capping, extra scales). Ignoring one would run a
// different model without a word, so each is refused unless it holds the value that changes
// nothing.
#pragma once

#include "gguf/gguf.h"
#include "model/config.h"

namespace moevk::model {

// Throws Error(Unsupported) naming the file, the key and its value for the first such key of
// `config.architecture` whose value moe-vk would not honour.
void refuse_unimplemented_keys(const gguf::File& file, const ModelConfig& config);

}  // namespace moevk::model
