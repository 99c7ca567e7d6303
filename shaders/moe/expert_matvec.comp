#version 460
#extension GL_GOOGLE_include_directive : require
// Matrix-vector expert FFN for few tokens (decode): one workgroup per (output row, pair),
// weights dequantised in registers, no permutation. Output rows are indexed by pair.
//   GATE_UP: h[p][n] = silu(x[p / pairs_per_token] . Wgate[n]) * (x[...] . Wup[n])
//   else:    y[p][n] = h[p] . Wdown[n]
#include "common.glsl"
#include "moe_config.h"
#include "weights.glsl"

layout(local_size_x_id = 0) in;  // MOE_MATVEC_THREADS
const uint WG = gl_WorkGroupSize.x;

layout(push_constant, scalar) uniform Push {
    Floats x;     // GATE_UP: activations [T][d_in]; else h [n_pairs][d_in]
    Floats dst;   // [n_pairs][d_out]
    Uints ids;    // [n_pairs] expert of each pair, read when has_ids
    ExpertTable table;
    uint d_in;
    uint d_out;
    uint pairs_per_token;
    uint has_ids;  // 0: every pair uses table entry 0 (the shared expert)
} pc;

shared float red0[WG];
shared float red1[WG];

void main() {
    // Rows past the 65535 workgroups a dimension guarantees continue in z (vocabulary projections).
    uint n = gl_WorkGroupID.x + gl_WorkGroupID.z * MOE_MATVEC_ROWS_PER_Z;
    uint p = gl_WorkGroupID.y;
    if (n >= pc.d_out) return;  // uniform across the workgroup
    uint tid = gl_LocalInvocationID.x;
    uint expert = pc.has_ids != 0u ? pc.ids.v[p] : 0u;
#ifdef GATE_UP
    uint x_base = (p / pc.pairs_per_token) * pc.d_in;
    Uints w0 = pc.table.m[expert * 3u + MATRIX_GATE];
    Uints w1 = pc.table.m[expert * 3u + MATRIX_UP];
#else
    uint x_base = p * pc.d_in;
    Uints w0 = pc.table.m[expert * 3u + MATRIX_DOWN];
#endif
    float a0 = 0.0, a1 = 0.0;
    for (uint col = tid * 32u; col < pc.d_in; col += WG * 32u) {
        a0 += dot_chunk32(w0, n, col, pc.d_in, pc.x, x_base);
#ifdef GATE_UP
        a1 += dot_chunk32(w1, n, col, pc.d_in, pc.x, x_base);
#endif
    }
    red0[tid] = a0;
    red1[tid] = a1;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) {
            red0[tid] += red0[tid + s];
            red1[tid] += red1[tid + s];
        }
        barrier();
    }
    if (tid == 0u) {
#ifdef GATE_UP
        pc.dst.v[p * pc.d_out + n] = silu(red0[0]) * red1[0];
#else
        pc.dst.v[p * pc.d_out + n] = red0[0];
#endif
    }
}
