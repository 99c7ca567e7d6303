#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "gpu/error.h"

namespace moevk::runtime {
namespace {

void check_param(bool ok, const char* name, double value, const char* range) {
    if (!ok)
        throw Error(ErrorCode::InvalidArgument, std::string("sampling parameter ") + name + " = " +
                                                    std::to_string(value) + " is out of range (" +
                                                    range + ")");
}

// Uniform in [0, 1) from the top 53 bits: the standard distributions' algorithms differ between
// standard libraries, this does not.
double unit(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace

void apply_penalties(std::span<float> logits, std::span<const uint32_t> recent,
                     const SamplingParams& params) {
    const size_t n = std::min<size_t>(params.penalty_last_n, recent.size());
    std::vector<uint32_t> window(recent.end() - static_cast<std::ptrdiff_t>(n), recent.end());
    for (uint32_t id : window)
        if (id >= logits.size())
            throw Error(ErrorCode::InvalidArgument, "recent token " + std::to_string(id) +
                                                        " is outside the vocabulary of " +
                                                        std::to_string(logits.size()));
    if (params.repeat_penalty == 1.0f && params.frequency_penalty == 0.0f &&
        params.presence_penalty == 0.0f)
        return;
    std::sort(window.begin(), window.end());
    for (size_t i = 0; i < window.size();) {
        size_t j = i;
        while (j < window.size() && window[j] == window[i]) ++j;
        float& l = logits[window[i]];
        if (params.repeat_penalty != 1.0f)
            l = l <= 0 ? l * params.repeat_penalty : l / params.repeat_penalty;
        l -= static_cast<float>(j - i) * params.frequency_penalty + params.presence_penalty;
        i = j;
    }
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
    const SamplingParams& p = params;
    check_param(std::isfinite(p.temperature) && p.temperature >= 0, "temperature", p.temperature,
                ">= 0");
    check_param(p.top_k >= 0, "top_k", p.top_k, ">= 0, 0 for off");
    check_param(p.top_p >= 0 && p.top_p <= 1, "top_p", p.top_p, "0 to 1");
    check_param(p.min_p >= 0 && p.min_p <= 1, "min_p", p.min_p, "0 to 1");
    check_param(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0, "repeat_penalty",
                p.repeat_penalty, "> 0, 1 for off");
    check_param(std::isfinite(p.frequency_penalty), "frequency_penalty", p.frequency_penalty,
                "finite");
    check_param(std::isfinite(p.presence_penalty), "presence_penalty", p.presence_penalty,
                "finite");
}

std::vector<Sampler::Candidate> Sampler::candidates(std::span<const float> logits,
                                                    std::span<const uint32_t> recent) {
    if (logits.empty())
        throw Error(ErrorCode::InvalidArgument, "sampling from an empty row of logits");
    work_.assign(logits.begin(), logits.end());
    apply_penalties(work_, recent, params_);

    const float* l = work_.data();
    order_.clear();
    for (uint32_t i = 0; i < work_.size(); ++i) {
        if (std::isnan(l[i]) || l[i] == INFINITY)
            throw Error(ErrorCode::InvalidArgument, "logit " + std::to_string(i) + " is " +
                                                        std::to_string(l[i]) +
                                                        " (not a number or +inf)");
        if (l[i] != -INFINITY) order_.push_back(i);
    }
    if (order_.empty())
        throw Error(ErrorCode::InvalidArgument,
                    "every logit of the row is -inf: no token can be drawn");

    // Most likely first; equal logits by id, so every step is deterministic.
    auto better = [l](uint32_t a, uint32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
    if (params_.temperature == 0)
        return {{*std::min_element(order_.begin(), order_.end(), better), 1.0}};

    if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < order_.size()) {
        std::nth_element(order_.begin(), order_.begin() + params_.top_k, order_.end(), better);
        order_.resize(static_cast<size_t>(params_.top_k));
    }
    const double max = l[*std::min_element(order_.begin(), order_.end(), better)];
    // top-p measures probabilities over what top-k kept.
    double z = 0;
    for (uint32_t id : order_) z += std::exp(l[id] - max);

    // top-p and min-p each keep a prefix of the sorted candidates, and min-p's threshold does not
    // depend on what top-p dropped, so cutting at min-p first and sorting only the rest gives
    // the same set as the two in llama.cpp's order.
    if (params_.min_p > 0) {
        const double threshold = max + std::log(static_cast<double>(params_.min_p));
        auto end = std::partition(order_.begin(), order_.end(),
                                  [&](uint32_t id) { return l[id] >= threshold; });
        order_.erase(end, order_.end());
    }
    // Sort only as far as top-p reads: the best `sorted` are in order at the front, everything
    // after is no better, and each step sorts the next, twice larger, chunk. Without top-k or
    // min-p this spares a sort of the whole vocabulary.
    size_t sorted = 0;
    auto sort_to = [&](size_t k) {
        k = std::min(k, order_.size());
        if (k <= sorted) return;
        auto first = order_.begin() + static_cast<std::ptrdiff_t>(sorted);
        auto last = order_.begin() + static_cast<std::ptrdiff_t>(k);
        std::nth_element(first, last - 1, order_.end(), better);
        std::sort(first, last, better);
        sorted = k;
    };
    if (params_.top_p < 1) {
        double cumulative = 0;
        for (size_t i = 0; i < order_.size(); ++i) {
            if (i == sorted) sort_to(std::max<size_t>(256, 2 * sorted));
            cumulative += std::exp(l[order_[i]] - max) / z;
            if (cumulative >= params_.top_p) {
                order_.resize(i + 1);
                break;
            }
        }
    }
    sort_to(order_.size());

    std::vector<Candidate> out;
    out.reserve(order_.size());
    double sum = 0;
    for (uint32_t id : order_) {
        double w = std::exp((l[id] - max) / params_.temperature);
        out.push_back({id, w});
        sum += w;
    }
    for (Candidate& c : out) c.p /= sum;
    return out;
}

uint32_t Sampler::sample(std::span<const float> logits, std::span<const uint32_t> recent) {
    std::vector<Candidate> c = candidates(logits, recent);
    if (c.size() == 1) return c.front().id;
    const double u = unit(rng_);
    double cumulative = 0;
    for (const Candidate& x : c) {
        cumulative += x.p;
        if (u < cumulative) return x.id;
    }
    return c.back().id;  // u within rounding of 1
}

}  // namespace moevk::runtime
