// Double-precision CPU references of the transformer kernels (engine/runtime/kernels.h and
// linear.h), for the kernel tests and the whole-model CPU reference. Plain loops, no shortcuts:
// these define what the kernels should compute.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "runtime/rope_scaling.h"

namespace moevk::runtime::ref {

// x [rows][n], in place
void rmsnorm(std::vector<double>& x, size_t rows, size_t n, std::span<const float> weight,
             double eps);
// x [tokens][n_heads][head_dim], in place; token t at position pos0 + t; `scaling` as the
// kernel takes it (its float parameters, the formula in double)
void rope(std::vector<double>& x, size_t tokens, size_t n_heads, size_t head_dim, size_t n_rot,
          size_t pos0, double freq_base, bool neox, const RopeScalingParams& scaling = {});
// q [T][n_heads][hd]; k, v [pos0 + T][n_kv_heads][hd] (all positions so far); returns
// [T][n_heads][hd]. window > 0: a token sees its last `window` positions only; sinks [n_heads]:
// each head's extra softmax logit (empty: none).
std::vector<double> attention(const std::vector<double>& q, const std::vector<double>& k,
                              const std::vector<double>& v, size_t tokens, size_t pos0,
                              size_t n_heads, size_t n_kv_heads, size_t head_dim, double scale,
                              size_t window = 0, std::span<const float> sinks = {});
// y [T][n_out] = x [T][n_in] . w^T, w [n_out][n_in] (already dequantised)
std::vector<double> linear(const std::vector<double>& x, size_t tokens, std::span<const float> w,
                           size_t n_in, size_t n_out);

}  // namespace moevk::runtime::ref
