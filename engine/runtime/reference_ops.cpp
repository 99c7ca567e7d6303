#include "runtime/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "gpu/error.h"

namespace moevk::runtime::ref {
namespace {

void require_size(const char* op, const char* name, size_t got, size_t want) {
    if (got != want)
        throw Error(ErrorCode::InvalidArgument, std::string("ref::") + op + ": " + name + " has " +
                                                    std::to_string(got) + " values, expected " +
                                                    std::to_string(want));
}

}  // namespace

void rmsnorm(std::vector<double>& x, size_t rows, size_t n, std::span<const float> weight,
             double eps) {
    require_size("rmsnorm", "x", x.size(), rows * n);
    require_size("rmsnorm", "weight", weight.size(), n);
    for (size_t r = 0; r < rows; ++r) {
        double* row = &x[r * n];
        double sum_sq = 0;
        for (size_t i = 0; i < n; ++i) sum_sq += row[i] * row[i];
        double scale = 1.0 / std::sqrt(sum_sq / double(n) + eps);
        for (size_t i = 0; i < n; ++i) row[i] = row[i] * scale * double(weight[i]);
    }
}

void rope(std::vector<double>& x, size_t tokens, size_t n_heads, size_t head_dim, size_t n_rot,
          size_t pos0, double freq_base, bool neox, const RopeScalingParams& scaling) {
    require_size("rope", "x", x.size(), tokens * n_heads * head_dim);
    if (n_rot % 2 != 0 || n_rot > head_dim)
        throw Error(
            ErrorCode::InvalidArgument,
            "ref::rope: n_rot must be even and at most head_dim, got " + std::to_string(n_rot));
    size_t half = n_rot / 2;
    for (size_t t = 0; t < tokens; ++t) {
        double pos = double(pos0 + t);
        for (size_t h = 0; h < n_heads; ++h) {
            double* head = &x[(t * n_heads + h) * head_dim];
            for (size_t i = 0; i < half; ++i) {
                double theta = pos * std::pow(freq_base, -2.0 * double(i) / double(n_rot));
                double interp = double(scaling.freq_scale) * theta;
                double span = std::max(0.001, double(scaling.corr_high) - double(scaling.corr_low));
                double ramp = 1.0 - std::clamp((double(i) - double(scaling.corr_low)) / span, 0.0, 1.0);
                double mix = ramp * double(scaling.ext_factor);
                theta = interp * (1.0 - mix) + theta * mix;
                double c = std::cos(theta) * scaling.mscale, s = std::sin(theta) * scaling.mscale;
                size_t a = neox ? i : 2 * i;
                size_t b = neox ? i + half : 2 * i + 1;
                double x0 = head[a], x1 = head[b];
                head[a] = x0 * c - x1 * s;
                head[b] = x0 * s + x1 * c;
            }
        }
    }
}

std::vector<double> attention(const std::vector<double>& q, const std::vector<double>& k,
                              const std::vector<double>& v, size_t tokens, size_t pos0,
                              size_t n_heads, size_t n_kv_heads, size_t head_dim, double scale,
                              size_t window, std::span<const float> sinks) {
    require_size("attention", "q", q.size(), tokens * n_heads * head_dim);
    require_size("attention", "k", k.size(), (pos0 + tokens) * n_kv_heads * head_dim);
    require_size("attention", "v", v.size(), (pos0 + tokens) * n_kv_heads * head_dim);
    if (n_kv_heads == 0 || n_heads % n_kv_heads != 0)
        throw Error(ErrorCode::InvalidArgument,
                    "ref::attention: n_kv_heads must divide n_heads, got " +
                        std::to_string(n_kv_heads) + " and " + std::to_string(n_heads));
    if (!sinks.empty()) require_size("attention", "sinks", sinks.size(), n_heads);
    size_t group = n_heads / n_kv_heads;
    size_t kv_row = n_kv_heads * head_dim;
    std::vector<double> out(q.size(), 0.0), scores;
    for (size_t t = 0; t < tokens; ++t) {
        size_t n_keys = pos0 + t + 1;  // causal
        size_t first = window && n_keys > window ? n_keys - window : 0;
        for (size_t h = 0; h < n_heads; ++h) {
            const double* qh = &q[(t * n_heads + h) * head_dim];
            size_t kv_base = (h / group) * head_dim;
            scores.assign(n_keys - first, 0.0);
            for (size_t j = first; j < n_keys; ++j) {
                double dot = 0;
                for (size_t d = 0; d < head_dim; ++d) dot += qh[d] * k[j * kv_row + kv_base + d];
                scores[j - first] = dot * scale;
            }
            double m = *std::max_element(scores.begin(), scores.end());
            if (!sinks.empty()) m = std::max(m, double(sinks[h]));
            double sum = sinks.empty() ? 0.0 : std::exp(double(sinks[h]) - m);
            for (double& s : scores) sum += s = std::exp(s - m);
            double* o = &out[(t * n_heads + h) * head_dim];
            for (size_t j = first; j < n_keys; ++j)
                for (size_t d = 0; d < head_dim; ++d)
                    o[d] += scores[j - first] / sum * v[j * kv_row + kv_base + d];
        }
    }
    return out;
}

std::vector<double> linear(const std::vector<double>& x, size_t tokens, std::span<const float> w,
                           size_t n_in, size_t n_out) {
    require_size("linear", "x", x.size(), tokens * n_in);
    require_size("linear", "w", w.size(), n_out * n_in);
    std::vector<double> y(tokens * n_out);
    for (size_t t = 0; t < tokens; ++t)
        for (size_t o = 0; o < n_out; ++o) {
            double acc = 0;
            for (size_t i = 0; i < n_in; ++i) acc += x[t * n_in + i] * double(w[o * n_in + i]);
            y[t * n_out + o] = acc;
        }
    return y;
}

}  // namespace moevk::runtime::ref
