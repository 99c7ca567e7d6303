// What each piece of a forward step costs on the GPU, learned from timestamps, and how many
// pieces fit in a time budget (the frame-budget mode). Pieces are a step's embedding, its
// layers and its logits (Session::pieces()). A one-token step (generation) and a batch (a
// prompt) cost differently, so each piece keeps two figures: microseconds for one token, and
// microseconds per token of a batch. Each is an exponential moving average, so it follows the
// cost as the context grows.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace moevk::runtime {

class PieceCosts {
public:
    explicit PieceCosts(uint32_t pieces);

    // Microseconds piece `piece` is expected to take in a step of `tokens` tokens; nothing
    // before the first measurement of its kind.
    std::optional<double> estimate(uint32_t piece, uint32_t tokens) const;
    void observe(uint32_t piece, uint32_t tokens, double microseconds);

    struct Plan {
        uint32_t pieces = 0;  // at least 1
        double estimated_us = 0;  // of the pieces whose cost is known
    };
    // How many of the pieces first .. first + available - 1 to submit within `budget_us`: as
    // many as the estimates say fit, but always one (a step must progress), and only one while
    // a piece's cost is unknown (it is measured on its own first).
    Plan plan(uint32_t first, uint32_t available, uint32_t tokens, double budget_us) const;

private:
    struct Average {
        double value = 0;
        bool known = false;
        void add(double sample);
    };
    std::vector<Average> one_token_;  // [piece] microseconds for a one-token step
    std::vector<Average> per_token_;  // [piece] microseconds per token of a batch
};

}  // namespace moevk::runtime
