// Choosing the next token from a row of logits, on the CPU (the forward pass already reads the
// row back). The steps run in llama.cpp's default order, each skipped at its "off" value:
//
//   penalties -> top-k -> top-p -> min-p -> temperature -> draw
//
// so the truncations see the untempered distribution and temperature only reshapes what
// survives. Temperature 0 is greedy: the highest penalised logit, ties to the lower id.
// The draw uses std::mt19937_64 and its own mapping to [0, 1), so a seed gives the same tokens
// on every platform.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace moevk::runtime {

struct SamplingParams {
    float temperature = 0.8f;        // 0: greedy
    int top_k = 40;                  // 0: off
    float top_p = 0.95f;             // 1: off
    float min_p = 0.05f;             // 0: off; relative to the most likely token
    float repeat_penalty = 1.0f;     // 1: off; divides positive logits, multiplies negative ones
    float frequency_penalty = 0.0f;  // subtracted once per occurrence
    float presence_penalty = 0.0f;   // subtracted once if the token occurs at all
    uint32_t penalty_last_n = 64;    // how many recent tokens the penalties look at; 0: off
    uint64_t seed = 0;
};

// Applies the penalties in place, as llama.cpp does: for each token among the last
// penalty_last_n of `recent` (occurring c times), l = l <= 0 ? l * repeat : l / repeat, then
// l -= c * frequency + presence. Error(InvalidArgument) for a recent token outside the logits.
void apply_penalties(std::span<float> logits, std::span<const uint32_t> recent,
                     const SamplingParams& params);

class Sampler {
public:
    struct Candidate {
        uint32_t id;
        double p;  // probability of being drawn
    };

    // Error(InvalidArgument) for a parameter out of range (negative temperature or top_k,
    // top_p or min_p outside [0, 1], a repeat penalty not above 0, a non-finite value).
    explicit Sampler(const SamplingParams& params);

    // The next token. `logits` is one row [n_vocab]; `recent` the tokens so far, oldest first
    // (only the last penalty_last_n matter). Error(InvalidArgument) for an empty row, a NaN or
    // +inf logit, a row that is all -inf, or a recent token outside it.
    uint32_t sample(std::span<const float> logits, std::span<const uint32_t> recent = {});

    // The tokens sample() would choose among and their probabilities, most likely first (ties
    // to the lower id); one token with p = 1 when greedy. Consumes no randomness.
    std::vector<Candidate> candidates(std::span<const float> logits,
                                      std::span<const uint32_t> recent = {});

    const SamplingParams& params() const { return params_; }
    void reseed(uint64_t seed) { rng_.seed(seed); }

private:
    SamplingParams params_;
    std::mt19937_64 rng_;
    std::vector<float> work_;      // the penalised row
    std::vector<uint32_t> order_;  // candidate ids
};

}  // namespace moevk::runtime
