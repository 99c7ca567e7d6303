#version 460
#extension GL_GOOGLE_include_directive : require
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
#include "expert_epilogue.glsl"

layout(local_size_x_id = 0) in;  // MOE_GEMM_THREADS == MOE_GEMM_TILE_COLS
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

// Activations are read by all threads at once (a broadcast); weights are stored transposed so
// thread c reads column c, and padded so the transposing writes do not collide in one bank.
shared float xs[TM][TK];
shared float ws0[TK][TN + 1];
#ifdef GATE_UP
shared float ws1[TK][TN + 1];
#endif
shared uint src_base[TM];

void main() {
    uint tile = gl_WorkGroupID.y;
    uint expert = pc.tiles.v[tile * 3u + 0u];
    uint row0 = pc.tiles.v[tile * 3u + 1u];
    uint n_rows = min(pc.tiles.v[tile * 3u + 2u], pc.row_limit - row0);
    uint col0 = gl_WorkGroupID.x * TN;
    uint c = gl_LocalInvocationID.x;

#ifdef GATE_UP
    Uints w0 = pc.table.m[expert * 3u + MATRIX_GATE];
    Uints w1 = pc.table.m[expert * 3u + MATRIX_UP];
#else
    Uints w0 = pc.table.m[expert * 3u + MATRIX_DOWN];
#endif

    if (c < TM) {
        uint r = row0 + min(c, n_rows - 1u);
#ifdef GATE_UP
        src_base[c] = (pc.row_src.v[r] / pc.pairs_per_token) * pc.d_in;
#else
        src_base[c] = r * pc.d_in;
#endif
    }
    barrier();

    float acc0[TM];
    float acc1[TM];
    for (uint r = 0u; r < TM; ++r) {
        acc0[r] = 0.0;
        acc1[r] = 0.0;
    }

    for (uint k0 = 0u; k0 < pc.d_in; k0 += TK) {
        // Consecutive threads read consecutive k of one row: coalesced global reads.
        for (uint i = c; i < TM * TK; i += WG) {
            uint r = i / TK, kk = i % TK;
            xs[r][kk] = (r < n_rows && k0 + kk < pc.d_in) ? pc.x.v[src_base[r] + k0 + kk] : 0.0;
        }
        for (uint i = c; i < TN * TK; i += WG) {
            uint n = i / TK, kk = i % TK;
            bool inside = col0 + n < pc.d_out && k0 + kk < pc.d_in;
            ws0[kk][n] = inside ? load_weight(w0, col0 + n, k0 + kk, pc.d_in) : 0.0;
#ifdef GATE_UP
            ws1[kk][n] = inside ? load_weight(w1, col0 + n, k0 + kk, pc.d_in) : 0.0;
#endif
        }
        barrier();
        for (uint kk = 0u; kk < TK; ++kk) {
            float a = ws0[kk][c];
#ifdef GATE_UP
            float b = ws1[kk][c];
#endif
            for (uint r = 0u; r < TM; ++r) {
                float xv = xs[r][kk];
                acc0[r] += xv * a;
#ifdef GATE_UP
                acc1[r] += xv * b;
#endif
            }
        }
        barrier();
    }

    uint n = col0 + c;
    if (n >= pc.d_out) return;
    float b0 = expert_bias(pc.bias0, pc.flags, expert, pc.d_out, n);
#ifdef GATE_UP
    float b1 = expert_bias(pc.bias1, pc.flags, expert, pc.d_out, n);
#endif
    for (uint r = 0u; r < TM; ++r) {
        if (r >= n_rows) break;
#ifdef GATE_UP
        pc.dst.v[(row0 + r) * pc.d_out + n] = expert_activation(pc.flags, acc0[r] + b0, acc1[r] + b1);
#else
        pc.dst.v[(row0 + r) * pc.d_out + n] = acc0[r] + b0;
#endif
    }
}
