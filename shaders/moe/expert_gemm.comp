#version 460
#extension GL_GOOGLE_include_directive : require
// Grouped GEMM over the permuted rows, one (row tile, column tile) per workgroup. The tile list
// (expert, first row, rows) and the workgroup counts come from permute_scan, so the host never
// reads the per-expert counts.
//   GATE_UP: h[r][n] = silu(x[tok(r)] . Wgate[n]) * (x[tok(r)] . Wup[n]),  n < ff
//   else:    y[r][n] = h[r] . Wdown[n],                                      n < d
// tok(r) = row_src[r] / pairs_per_token.
#include "common.glsl"
#include "moe_config.h"
#include "weights.glsl"

layout(local_size_x_id = 0) in;  // MOE_GEMM_THREADS
const uint WG = gl_WorkGroupSize.x;
const uint TM = MOE_GEMM_TILE_ROWS;
const uint TN = MOE_GEMM_TILE_COLS;
const uint TK = MOE_GEMM_TILE_K;
const uint ROWS_PER_THREAD = TM / (MOE_GEMM_THREADS / TN);

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
} pc;

shared float xs[TM][TK];
shared float ws0[TN][TK + 1];  // +1: threads of a row tile read down a column without bank conflicts
#ifdef GATE_UP
shared float ws1[TN][TK + 1];
#endif
shared uint src_base[TM];

void main() {
    uint tile = gl_WorkGroupID.y;
    uint expert = pc.tiles.v[tile * 3u + 0u];
    uint row0 = pc.tiles.v[tile * 3u + 1u];
    uint n_rows = min(pc.tiles.v[tile * 3u + 2u], pc.row_limit - row0);
    uint col0 = gl_WorkGroupID.x * TN;
    uint tid = gl_LocalInvocationID.x;
    uint c = tid % TN;
    uint rg = tid / TN;

#ifdef GATE_UP
    Uints w0 = pc.table.m[expert * 3u + MATRIX_GATE];
    Uints w1 = pc.table.m[expert * 3u + MATRIX_UP];
#else
    Uints w0 = pc.table.m[expert * 3u + MATRIX_DOWN];
#endif

    if (tid < TM) {
        uint r = row0 + min(tid, n_rows - 1u);
#ifdef GATE_UP
        src_base[tid] = (pc.row_src.v[r] / pc.pairs_per_token) * pc.d_in;
#else
        src_base[tid] = r * pc.d_in;
#endif
    }
    barrier();

    float acc0[ROWS_PER_THREAD];
    float acc1[ROWS_PER_THREAD];
    for (uint j = 0u; j < ROWS_PER_THREAD; ++j) {
        acc0[j] = 0.0;
        acc1[j] = 0.0;
    }

    for (uint k0 = 0u; k0 < pc.d_in; k0 += TK) {
        for (uint i = tid; i < TM * TK; i += WG) {
            uint r = i / TK, kk = i % TK;
            xs[r][kk] = (r < n_rows && k0 + kk < pc.d_in) ? pc.x.v[src_base[r] + k0 + kk] : 0.0;
        }
        for (uint i = tid; i < TN * TK; i += WG) {
            uint n = i / TK, kk = i % TK;
            bool inside = col0 + n < pc.d_out && k0 + kk < pc.d_in;
            ws0[n][kk] = inside ? load_weight(w0, col0 + n, k0 + kk, pc.d_in) : 0.0;
#ifdef GATE_UP
            ws1[n][kk] = inside ? load_weight(w1, col0 + n, k0 + kk, pc.d_in) : 0.0;
#endif
        }
        barrier();
        for (uint kk = 0u; kk < TK; ++kk) {
            float a = ws0[c][kk];
#ifdef GATE_UP
            float b = ws1[c][kk];
#endif
            for (uint j = 0u; j < ROWS_PER_THREAD; ++j) {
                float xv = xs[rg * ROWS_PER_THREAD + j][kk];
                acc0[j] += xv * a;
#ifdef GATE_UP
                acc1[j] += xv * b;
#endif
            }
        }
        barrier();
    }

    uint n = col0 + c;
    if (n >= pc.d_out) return;
    for (uint j = 0u; j < ROWS_PER_THREAD; ++j) {
        uint r = rg * ROWS_PER_THREAD + j;
        if (r >= n_rows) continue;
#ifdef GATE_UP
        pc.dst.v[(row0 + r) * pc.d_out + n] = silu(acc0[j]) * acc1[j];
#else
        pc.dst.v[(row0 + r) * pc.d_out + n] = acc0[j];
#endif
    }
}
