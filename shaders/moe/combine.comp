#version 460
#extension GL_GOOGLE_include_directive : require
// Combine: out[t] = sum over k = 0..K-1, in that order, of w[t][k] * y[row(t,k)], skipping
// dropped pairs, plus the shared expert's output (scaled by sigmoid(x[t] . g) when gated).
// One workgroup per token; no atomics, so results are identical run to run.
#include "common.glsl"
#include "moe_config.h"

layout(local_size_x_id = 0) in;  // MOE_COMBINE_THREADS
const uint WG = gl_WorkGroupSize.x;

layout(push_constant, scalar) uniform Push {
    Floats y;            // [rows][d] expert outputs
    Uints pair_row;      // [T*K] row of each pair (MOE_COMBINE_PAIR_ROW), else row = pair
    Floats weights;      // [T*K]
    Floats dst;          // [T][d]
    Floats x;            // [T][d] layer input, for the shared expert's gate
    Floats shared_gate;  // [d]
    Floats shared_y;     // [T][d]
    uint d;
    uint k;
    uint flags;
} pc;

shared float red[WG];

void main() {
    uint t = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    bool shared_expert = (pc.flags & MOE_COMBINE_SHARED) != 0u;
    float gate = 1.0;
    if (shared_expert && (pc.flags & MOE_COMBINE_SHARED_GATED) != 0u) {
        float acc = 0.0;
        for (uint i = tid; i < pc.d; i += WG) acc += pc.x.v[t * pc.d + i] * pc.shared_gate.v[i];
        red[tid] = acc;
        barrier();
        for (uint s = WG / 2u; s > 0u; s >>= 1) {
            if (tid < s) red[tid] += red[tid + s];
            barrier();
        }
        gate = 1.0 / (1.0 + exp(-red[0]));
    }
    for (uint c = tid; c < pc.d; c += WG) {
        float acc = 0.0;
        for (uint kk = 0u; kk < pc.k; ++kk) {
            uint p = t * pc.k + kk;
            uint row = (pc.flags & MOE_COMBINE_PAIR_ROW) != 0u ? pc.pair_row.v[p] : p;
            if (row != DROPPED_ROW) acc += pc.weights.v[p] * pc.y.v[row * pc.d + c];
        }
        if (shared_expert) acc += gate * pc.shared_y.v[t * pc.d + c];
        pc.dst.v[t * pc.d + c] = acc;
    }
}
