#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Grouped GEMM over the permuted rows, one (row tile, column tile) per workgroup. The tile list
// (expert, first row, rows) and the workgroup counts come from permute_scan, so the host never
// reads the per-expert counts.
//   GATE_UP: h[r][n] = act(x[tok(r)] . Wgate[n] + bg[n], x[tok(r)] . Wup[n] + bu[n]),  n < ff
//   else:    y[r][n] = h[r] . Wdown[n] + bd[n],                                      n < d
// with the expert's biases where the layer has them (include/expert_epilogue.glsl).
// tok(r) = row_src[r] / pairs_per_token.
#include "common.glsl"
#include "moe_config.h"
#include "weights.glsl"
#include "weight_runs.glsl"
#include "expert_epilogue.glsl"

layout(local_size_x_id = 0) in;  // (TM / RB) * (TN / CB): moe::gemm_geometry
layout(constant_id = 1) const uint CB = 4u;  // columns a thread owns: 2, 4 or 8
const uint WG = gl_WorkGroupSize.x;
const uint TM = MOE_GEMM_TILE_ROWS;
const uint TN = MOE_GEMM_TILE_COLS;
const uint TK = MOE_GEMM_TILE_K;

layout(push_constant, scalar) uniform Push {
    Floats x;         // GATE_UP: activations [T][d_in]; else h [rows][d_in]
    Floats dst;       // [rows][d_out]
    Uints row_src;    // GATE_UP: the pair each row holds
    Uints tiles;      // [n_tiles][3]
    ExpertTable table;
    uint d_in;
    uint d_out;
    uint pairs_per_token;
    uint row_limit;  // rows at or past this are skipped (the shared expert's last tile)
    Floats bias0;    // GATE_UP: gate bias [E][d_out]; else down bias [E][d_out] (MOE_EXPERT_BIASES)
    Floats bias1;    // GATE_UP: up bias [E][d_out]
    uint flags;      // MOE_EXPERT_*
} pc;

// Each thread owns an RB x CB block of the tile's outputs: rows RB tr .. RB tr + RB - 1 and
// columns tc + TC j (j < CB; tr = c / TC, tc = c % TC). Activations and weights are staged in
// shared memory as vec4s of 4 consecutive k, so per 4 steps of k a thread loads RB + CB vec4s
// (RB + 2 CB with GATE_UP) for 4 RB CB (8 RB CB) multiply-adds. Each sum still runs over k in
// order, one multiply-add at a time, as a dot product written out would.
const uint RB = MOE_GEMM_ROWS_PER_THREAD;
const uint TC = TN / CB;   // column lanes
const uint K4 = TK / 4u;   // vec4s of k per tile row
shared vec4 xs[TM][K4];
shared vec4 ws0[TN][K4 + 1u];  // + 1: neighbouring columns fall in different banks
#ifdef GATE_UP
shared vec4 ws1[TN][K4 + 1u];
#endif
shared uint src_base[TM];

// acc += x . w over 4 consecutive k, in order.
float fma4(float acc, vec4 x, vec4 w) {
    acc += x.x * w.x;
    acc += x.y * w.y;
    acc += x.z * w.z;
    acc += x.w * w.w;
    return acc;
}

void main() {
    uint tile = gl_WorkGroupID.y;
    uint expert = pc.tiles.v[tile * 3u + 0u];
    uint row0 = pc.tiles.v[tile * 3u + 1u];
    uint n_rows = min(pc.tiles.v[tile * 3u + 2u], pc.row_limit - row0);
    uint col0 = gl_WorkGroupID.x * TN;
    uint c = gl_LocalInvocationID.x;
    uint tr = c / TC, tc = c % TC;

#ifdef GATE_UP
    Uints w0 = pc.table.m[expert * 3u + MATRIX_GATE];
    Uints w1 = pc.table.m[expert * 3u + MATRIX_UP];
#else
    Uints w0 = pc.table.m[expert * 3u + MATRIX_DOWN];
#endif

    for (uint r = c; r < TM; r += WG) {
        uint row = row0 + min(r, n_rows - 1u);
#ifdef GATE_UP
        src_base[r] = (pc.row_src.v[row] / pc.pairs_per_token) * pc.d_in;
#else
        src_base[r] = row * pc.d_in;
#endif
    }
    barrier();

    float acc0[RB][CB], acc1[RB][CB];
    [[unroll]] for (uint i = 0u; i < RB; ++i) {
        [[unroll]] for (uint j = 0u; j < CB; ++j) {
            acc0[i][j] = 0.0;
            acc1[i][j] = 0.0;
        }
    }
    // Row blocks past the tile's rows skip the arithmetic, so a tile of a few tokens costs its
    // rows rather than TM (on a CPU device a SIMD group shares its tr).
    uint k4_steps = RB * tr < n_rows ? K4 : 0u;

    for (uint k0 = 0u; k0 < pc.d_in; k0 += TK) {
        for (uint i = c; i < TM * K4; i += WG) {
            uint r = i / K4, q = i % K4;
            uint k = k0 + 4u * q;
            vec4 v = vec4(0.0);
            if (r < n_rows) {
                uint at = src_base[r] + k;
                [[unroll]] for (uint j = 0u; j < 4u; ++j) v[j] = k + j < pc.d_in ? pc.x.v[at + j] : 0.0;
            }
            xs[r][q] = v;
        }
        // Weights in runs of 8 values of one row (include/weight_runs.glsl): a thread reads a
        // block's scale once for 8 values. Neighbouring threads take neighbouring runs of a row.
        for (uint i = c; i < TN * (TK / 8u); i += WG) {
            uint n = i / (TK / 8u), q = (i % (TK / 8u)) * 2u;
            uint col = col0 + n, k = k0 + 4u * q;
            float v0[8];
#ifdef GATE_UP
            float v1[8];
#endif
            if (col < pc.d_out && k + 8u <= pc.d_in) {
                decode_run(w0, col, k, pc.d_in, v0);
#ifdef GATE_UP
                decode_run(w1, col, k, pc.d_in, v1);
#endif
            } else {
                // The tile's edge: rows past d_out, and the ragged end of a plain-format row.
                for (uint j = 0u; j < 8u; ++j) {
                    bool inside = col < pc.d_out && k + j < pc.d_in;
                    v0[j] = inside ? load_weight(w0, col, k + j, pc.d_in) : 0.0;
#ifdef GATE_UP
                    v1[j] = inside ? load_weight(w1, col, k + j, pc.d_in) : 0.0;
#endif
                }
            }
            ws0[n][q] = vec4(v0[0], v0[1], v0[2], v0[3]);
            ws0[n][q + 1u] = vec4(v0[4], v0[5], v0[6], v0[7]);
#ifdef GATE_UP
            ws1[n][q] = vec4(v1[0], v1[1], v1[2], v1[3]);
            ws1[n][q + 1u] = vec4(v1[4], v1[5], v1[6], v1[7]);
#endif
        }
        barrier();
        for (uint q = 0u; q < k4_steps; ++q) {
            vec4 xv[RB], a[CB];
            [[unroll]] for (uint i = 0u; i < RB; ++i) xv[i] = xs[RB * tr + i][q];
            [[unroll]] for (uint j = 0u; j < CB; ++j) a[j] = ws0[tc + TC * j][q];
            [[unroll]] for (uint i = 0u; i < RB; ++i) {
                [[unroll]] for (uint j = 0u; j < CB; ++j) acc0[i][j] = fma4(acc0[i][j], xv[i], a[j]);
            }
#ifdef GATE_UP
            [[unroll]] for (uint j = 0u; j < CB; ++j) a[j] = ws1[tc + TC * j][q];
            [[unroll]] for (uint i = 0u; i < RB; ++i) {
                [[unroll]] for (uint j = 0u; j < CB; ++j) acc1[i][j] = fma4(acc1[i][j], xv[i], a[j]);
            }
#endif
        }
        barrier();
    }

    [[unroll]] for (uint j = 0u; j < CB; ++j) {
        uint n = col0 + tc + TC * j;
        if (n >= pc.d_out) continue;
        float b0 = expert_bias(pc.bias0, pc.flags, expert, pc.d_out, n);
#ifdef GATE_UP
        float b1 = expert_bias(pc.bias1, pc.flags, expert, pc.d_out, n);
#endif
        [[unroll]] for (uint i = 0u; i < RB; ++i) {
            uint r = RB * tr + i;
            if (r >= n_rows) continue;
#ifdef GATE_UP
            pc.dst.v[(row0 + r) * pc.d_out + n] = expert_activation(pc.flags, acc0[i][j] + b0, acc1[i][j] + b1);
#else
            pc.dst.v[(row0 + r) * pc.d_out + n] = acc0[i][j] + b0;
#endif
        }
    }
}
