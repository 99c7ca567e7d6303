#version 460
#extension GL_GOOGLE_include_directive : require
// Router logits: logits[t][e] = x[t] . Wg[e] (+ bias[e], gpt-oss), f32 weights and accumulation.
// One workgroup per (expert, token); its threads split d and reduce in shared memory.
#include "common.glsl"

layout(local_size_x_id = 0) in;
const uint WG = gl_WorkGroupSize.x;

layout(push_constant, scalar) uniform Push {
    Floats x;       // [T][d]
    Floats weight;  // [E][d]
    Floats logits;  // [T][E]
    Floats bias;    // [E], read when has_bias
    uint d;
    uint n_experts;
    uint has_bias;
} pc;

shared float partial[WG];

void main() {
    uint e = gl_WorkGroupID.x;
    uint t = gl_WorkGroupID.y;
    uint tid = gl_LocalInvocationID.x;
    float acc = 0.0;
    for (uint i = tid; i < pc.d; i += WG) acc += pc.x.v[t * pc.d + i] * pc.weight.v[e * pc.d + i];
    partial[tid] = acc;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) partial[tid] += partial[tid + s];
        barrier();
    }
    if (tid == 0u) pc.logits.v[t * pc.n_experts + e] = partial[0] + (pc.has_bias != 0u ? pc.bias.v[e] : 0.0);
}
