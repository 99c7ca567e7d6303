#include "runtime/piece_costs.h"

namespace moevk::runtime {
namespace {

// Weight of the newest sample: about the last five steps count.
constexpr double kSmoothing = 0.3;

}  // namespace

PieceCosts::PieceCosts(uint32_t pieces) : one_token_(pieces), per_token_(pieces) {}

void PieceCosts::Average::add(double sample) {
    value = known ? (1 - kSmoothing) * value + kSmoothing * sample : sample;
    known = true;
}

std::optional<double> PieceCosts::estimate(uint32_t piece, uint32_t tokens) const {
    if (piece >= one_token_.size() || tokens == 0) return std::nullopt;
    if (tokens == 1) {
        if (one_token_[piece].known) return one_token_[piece].value;
        return std::nullopt;
    }
    if (per_token_[piece].known) return per_token_[piece].value * tokens;
    return std::nullopt;
}

void PieceCosts::observe(uint32_t piece, uint32_t tokens, double microseconds) {
    if (piece >= one_token_.size() || tokens == 0 || !(microseconds >= 0)) return;
    if (tokens == 1)
        one_token_[piece].add(microseconds);
    else
        per_token_[piece].add(microseconds / tokens);
}

PieceCosts::Plan PieceCosts::plan(uint32_t first, uint32_t available, uint32_t tokens, double budget_us) const {
    Plan p;
    if (available == 0) return p;
    for (uint32_t i = 0; i < available; ++i) {
        std::optional<double> cost = estimate(first + i, tokens);
        if (!cost) {
            if (i == 0) p.pieces = 1;  // unknown: measure it alone
            break;
        }
        if (i > 0 && p.estimated_us + *cost > budget_us) break;
        p.estimated_us += *cost;
        p.pieces = i + 1;
    }
    return p;
}

}  // namespace moevk::runtime
