// Models with random weights, written in the GGUF layout of a real architecture: tests build
// small ones in memory to compare the GPU runtime with the CPU reference, and moe-bench writes
// large ones to measure at real sizes without a download.
#pragma once

#include <cstdint>
#include <string>

#include "gguf/gguf.h"
#include "quant/formats.h"

namespace moevk::model {

struct SyntheticSpec {
    std::string architecture = "llama";  // an entry of the architecture table
    uint32_t n_layers = 2;
    uint32_t d_model = 256;
    uint32_t n_heads = 4;
    uint32_t n_kv_heads = 2;
    uint32_t head_dim = 64;
    uint32_t n_rot = 0;  // 0: head_dim
    uint32_t n_vocab = 300;
    uint32_t n_experts = 8;
    uint32_t top_k = 2;
    uint32_t d_ff = 256;
    uint32_t d_ff_shared = 0;  // used where the architecture has a shared expert
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;
    quant::WeightFormat attn_format = quant::WeightFormat::F32;
    quant::WeightFormat gate_up_format = quant::WeightFormat::F32;
    quant::WeightFormat down_format = quant::WeightFormat::F32;
    quant::WeightFormat embed_format = quant::WeightFormat::F32;
    quant::WeightFormat output_format = quant::WeightFormat::F32;
    bool tied_output = false;  // no output.weight: the token embedding serves
    bool qkv_bias = true;      // attn_{q,k,v}.bias where the architecture has them (optional there)
    // Where the architecture has sliding-window layers: the window (its default layer pattern).
    uint32_t sliding_window = 4;
    // RoPE scaling keys: "" writes none; "linear" or "yarn" with the factor and, for YaRN, the
    // original context.
    std::string rope_scaling;
    float rope_scaling_factor = 1.0f;
    uint32_t rope_original_context = 0;
    // The older layout of many Mixtral files: one tensor per expert, blk.N.ffn_gate.E.weight,
    // holding the same values the merged ffn_gate_exps.weight would.
    bool split_experts = false;
    // Quantising billions of random values takes minutes; with n > 0 each layer quantises n
    // experts and repeats them (their routers stay distinct), which is enough for timing.
    uint32_t distinct_experts = 0;
    uint64_t seed = 1;
};

gguf::Writer synthetic_model(const SyntheticSpec& spec);

// A real vocabulary for a synthetic model, so that other engines (llama.cpp) load the file:
// vocabulary_size() counts `from`'s tokenizer.ggml.tokens (Error(BadFile) naming the file when it
// has none), to give SyntheticSpec::n_vocab; add_vocabulary() copies every tokenizer.* key of
// `from` (tokens, scores, types, merges, special ids, chat template) into `w`.
uint32_t vocabulary_size(const gguf::File& from);
void add_vocabulary(gguf::Writer& w, const gguf::File& from);

}  // namespace moevk::model
