// Double-precision CPU references of the transformer kernels (engine/runtime/kernels.h and
// linear.h), for the kernel tests and the whole-model CPU reference. Plain loops, no shortcuts:
// these define what the kernels should compute.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace moevk::runtime::ref {

// x [rows][n], in place
void rmsnorm(std::vector<double>& x, size_t rows, size_t n, std::span<const float> weight,
             double eps);
// x [tokens][n_heads][head_dim], in place; token t at position pos0 + t
void rope(std::vector<double>& x, size_t tokens, size_t n_heads, size_t head_dim, size_t n_rot,
          size_t pos0, double freq_base, bool neox);
// q [T][n_heads][hd]; k, v [pos0 + T][n_kv_heads][hd] (all positions so far); returns
// [T][n_heads][hd]
std::vector<double> attention(const std::vector<double>& q, const std::vector<double>& k,
                              const std::vector<double>& v, size_t tokens, size_t pos0,
                              size_t n_heads, size_t n_kv_heads, size_t head_dim, double scale);
// y [T][n_out] = x [T][n_in] . w^T, w [n_out][n_in] (already dequantised)
std::vector<double> linear(const std::vector<double>& x, size_t tokens, std::span<const float> w,
                           size_t n_in, size_t n_out);

}  // namespace moevk::runtime::ref
