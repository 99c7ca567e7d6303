#include "moe/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace moevk::moe::reference {
namespace {

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double silu(double v) { return v * sigmoid(v); }

}  // namespace

double activation(Activation a, double gate, double up) {
    if (a == Activation::SwiGluClamped) {
        constexpr double kLimit = 7.0, kAlpha = 1.702;
        double g = std::min(gate, kLimit), u = std::clamp(up, -kLimit, kLimit);
        return g * sigmoid(kAlpha * g) * (u + 1.0);
    }
    return silu(gate) * up;
}

namespace {

// Per-expert probabilities of one token's logits under the layer's gating function.
// Under SoftmaxSelected they are the logits themselves: the softmax comes after selection.
std::vector<double> probabilities(const double* logits, const MoeConfig& c) {
    std::vector<double> p(c.n_experts);
    if (c.gating == Gating::SoftmaxSelected) {
        p.assign(logits, logits + c.n_experts);
    } else if (c.gating == Gating::Softmax) {
        double m = *std::max_element(logits, logits + c.n_experts);
        double sum = 0;
        for (uint32_t e = 0; e < c.n_experts; ++e) sum += p[e] = std::exp(logits[e] - m);
        for (double& v : p) v /= sum;
    } else {
        for (uint32_t e = 0; e < c.n_experts; ++e) p[e] = sigmoid(logits[e]);
    }
    return p;
}

void fill_weights(const std::vector<double>& p, const uint32_t* ids, const MoeConfig& c, double* out) {
    if (c.gating == Gating::SoftmaxSelected) {
        double m = p[ids[0]];
        for (uint32_t k = 1; k < c.top_k; ++k) m = std::max(m, p[ids[k]]);
        double sum = 0;
        for (uint32_t k = 0; k < c.top_k; ++k) sum += out[k] = std::exp(p[ids[k]] - m);
        for (uint32_t k = 0; k < c.top_k; ++k) out[k] *= c.weight_scale / sum;
        return;
    }
    double sum = 0;
    for (uint32_t k = 0; k < c.top_k; ++k) sum += p[ids[k]];
    double norm = c.renormalize ? c.weight_scale / sum : c.weight_scale;
    for (uint32_t k = 0; k < c.top_k; ++k) out[k] = p[ids[k]] * norm;
}

}  // namespace

std::vector<double> router_logits(const std::vector<float>& x, uint32_t tokens, const MoeWeights& w) {
    const MoeConfig& c = w.config;
    std::vector<double> logits(size_t(tokens) * c.n_experts);
    for (uint32_t t = 0; t < tokens; ++t)
        for (uint32_t e = 0; e < c.n_experts; ++e) {
            double acc = 0;
            for (uint32_t i = 0; i < c.d_model; ++i)
                acc += double(x[size_t(t) * c.d_model + i]) * w.router[size_t(e) * c.d_model + i];
            if (!w.router_bias.empty()) acc += w.router_bias[e];
            logits[size_t(t) * c.n_experts + e] = acc;
        }
    return logits;
}

Routing topk(const std::vector<double>& logits, uint32_t tokens, const MoeConfig& c,
             const std::vector<float>& bias) {
    Routing r;
    r.ids.resize(size_t(tokens) * c.top_k);
    r.weights.resize(r.ids.size());
    r.margin.resize(tokens);
    for (uint32_t t = 0; t < tokens; ++t) {
        const double* l = &logits[size_t(t) * c.n_experts];
        std::vector<double> p = probabilities(l, c);
        std::vector<double> score(c.n_experts);
        for (uint32_t e = 0; e < c.n_experts; ++e) {
            bool biased = c.selection_bias && !bias.empty();
            if (c.gating != Gating::Sigmoid)
                score[e] = biased ? p[e] + bias[e] : l[e];  // logits rank as p does
            else
                score[e] = biased ? p[e] + bias[e] : p[e];
        }
        std::vector<uint32_t> order(c.n_experts);
        std::iota(order.begin(), order.end(), 0u);
        std::stable_sort(order.begin(), order.end(),
                         [&](uint32_t a, uint32_t b) { return score[a] > score[b]; });
        std::copy_n(order.begin(), c.top_k, &r.ids[size_t(t) * c.top_k]);
        r.margin[t] = c.top_k < c.n_experts ? score[order[c.top_k - 1]] - score[order[c.top_k]]
                                            : std::numeric_limits<double>::infinity();
        fill_weights(p, &r.ids[size_t(t) * c.top_k], c, &r.weights[size_t(t) * c.top_k]);
    }
    return r;
}

std::vector<double> weights_for(const std::vector<double>& logits, uint32_t tokens, const MoeConfig& c,
                                const std::vector<uint32_t>& ids) {
    std::vector<double> out(size_t(tokens) * c.top_k);
    for (uint32_t t = 0; t < tokens; ++t) {
        std::vector<double> p = probabilities(&logits[size_t(t) * c.n_experts], c);
        fill_weights(p, &ids[size_t(t) * c.top_k], c, &out[size_t(t) * c.top_k]);
    }
    return out;
}

Permutation permute(const std::vector<uint32_t>& ids, uint32_t n_experts, uint32_t capacity) {
    Permutation p;
    p.counts.assign(n_experts, 0);
    for (uint32_t e : ids) ++p.counts[e];
    p.kept.resize(n_experts);
    p.offsets.resize(n_experts);
    uint32_t rows = 0;
    for (uint32_t e = 0; e < n_experts; ++e) {
        p.kept[e] = std::min(p.counts[e], capacity);
        p.offsets[e] = rows;
        rows += p.kept[e];
        p.dropped += p.counts[e] - p.kept[e];
    }
    p.row_pair.resize(rows);
    p.pair_row.assign(ids.size(), kDroppedRow);
    std::vector<uint32_t> next(n_experts, 0);
    for (uint32_t pair = 0; pair < ids.size(); ++pair) {
        uint32_t e = ids[pair];
        if (next[e] < p.kept[e]) {
            uint32_t row = p.offsets[e] + next[e]++;
            p.row_pair[row] = pair;
            p.pair_row[pair] = row;
        }
    }
    return p;
}

void expert_ffn(const float* x, const DenseExpert& e, uint32_t d_model, std::vector<double>& h,
                std::vector<double>& y) {
    h.assign(e.d_ff, 0.0);
    y.assign(d_model, 0.0);
    for (uint32_t n = 0; n < e.d_ff; ++n) {
        double g = 0, u = 0;
        const float* wg = &e.gate[size_t(n) * d_model];
        const float* wu = &e.up[size_t(n) * d_model];
        for (uint32_t i = 0; i < d_model; ++i) {
            g += double(wg[i]) * x[i];
            u += double(wu[i]) * x[i];
        }
        if (!e.gate_bias.empty()) {
            g += e.gate_bias[n];
            u += e.up_bias[n];
        }
        h[n] = activation(e.activation, g, u);
    }
    for (uint32_t n = 0; n < d_model; ++n) {
        double acc = 0;
        const float* wd = &e.down[size_t(n) * e.d_ff];
        for (uint32_t i = 0; i < e.d_ff; ++i) acc += double(wd[i]) * h[i];
        y[n] = acc + (e.down_bias.empty() ? 0.0 : double(e.down_bias[n]));
    }
}

std::vector<double> combine(const std::vector<double>& y_rows, const std::vector<uint32_t>& pair_row,
                            const std::vector<double>& weights, uint32_t tokens, uint32_t top_k,
                            uint32_t d, const std::vector<float>& x, const std::vector<double>& shared_y,
                            const std::vector<float>& shared_gate) {
    std::vector<double> out(size_t(tokens) * d, 0.0);
    for (uint32_t t = 0; t < tokens; ++t) {
        double* o = &out[size_t(t) * d];
        for (uint32_t k = 0; k < top_k; ++k) {
            uint32_t pair = t * top_k + k;
            uint32_t row = pair_row[pair];
            if (row == kDroppedRow) continue;
            for (uint32_t c = 0; c < d; ++c) o[c] += weights[pair] * y_rows[size_t(row) * d + c];
        }
        if (shared_y.empty()) continue;
        double gate = 1.0;
        if (!shared_gate.empty()) {
            double dot = 0;
            for (uint32_t c = 0; c < d; ++c) dot += double(x[size_t(t) * d + c]) * shared_gate[c];
            gate = sigmoid(dot);
        }
        for (uint32_t c = 0; c < d; ++c) o[c] += gate * shared_y[size_t(t) * d + c];
    }
    return out;
}

LayerResult layer(const std::vector<float>& x, uint32_t tokens, const MoeWeights& w,
                  const std::vector<DenseExpert>& dense, const DenseExpert* dense_shared,
                  const std::vector<uint32_t>* forced_ids) {
    const MoeConfig& c = w.config;
    LayerResult r;
    std::vector<double> logits = router_logits(x, tokens, w);
    r.routing = topk(logits, tokens, c, w.selection_bias);
    if (forced_ids) {
        r.routing.ids = *forced_ids;
        r.routing.weights = weights_for(logits, tokens, c, *forced_ids);
    }
    r.permutation = permute(r.routing.ids, c.n_experts, capacity_rows(c, tokens));

    std::vector<double> y_rows(r.permutation.row_pair.size() * c.d_model);
    std::vector<double> h, y;
    for (size_t row = 0; row < r.permutation.row_pair.size(); ++row) {
        uint32_t pair = r.permutation.row_pair[row];
        uint32_t t = pair / c.top_k;
        expert_ffn(&x[size_t(t) * c.d_model], dense[r.routing.ids[pair]], c.d_model, h, y);
        std::copy(y.begin(), y.end(), &y_rows[row * c.d_model]);
    }
    std::vector<double> shared_y;
    if (dense_shared) {
        shared_y.resize(size_t(tokens) * c.d_model);
        for (uint32_t t = 0; t < tokens; ++t) {
            expert_ffn(&x[size_t(t) * c.d_model], *dense_shared, c.d_model, h, y);
            std::copy(y.begin(), y.end(), &shared_y[size_t(t) * c.d_model]);
        }
    }
    r.out = combine(y_rows, r.permutation.pair_row, r.routing.weights, tokens, c.top_k, c.d_model, x,
                    shared_y, w.shared_gate);
    return r;
}

}  // namespace moevk::moe::reference
