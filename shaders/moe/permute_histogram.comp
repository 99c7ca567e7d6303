#version 460
#extension GL_GOOGLE_include_directive : require
// Permute, step 1: counts[e] = number of (token, k) pairs routed to expert e.
// One workgroup per expert; a reduction rather than atomics keeps it deterministic.
#include "common.glsl"

layout(local_size_x_id = 0) in;
const uint WG = gl_WorkGroupSize.x;

layout(push_constant, scalar) uniform Push {
    Uints ids;     // [n_pairs] expert of each pair, pair = t*K + k
    Uints counts;  // [E] out
    uint n_pairs;
} pc;

shared uint partial[WG];

void main() {
    uint e = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    uint n = 0u;
    for (uint p = tid; p < pc.n_pairs; p += WG) n += pc.ids.v[p] == e ? 1u : 0u;
    partial[tid] = n;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) partial[tid] += partial[tid + s];
        barrier();
    }
    if (tid == 0u) pc.counts.v[e] = partial[0];
}
