#version 460
#extension GL_GOOGLE_include_directive : require
// Rotary position embedding, in place on x[tokens][n_heads][head_dim]. Token t sits at position
// p = pos0 + t; pair i in [0, n_rot/2) of each head turns by theta = p * base^(-2i/n_rot):
//   normal (GPT-J / llama):  dims (2i, 2i+1)
//   NEOX:                    dims (i, i + n_rot/2)
// Dims at or past n_rot are left as they are. One thread per (token, head, pair).
// Frequency scaling (linear, YaRN) follows ggml's rope_yarn: theta is a mix of the interpolated
// angle freq_scale * theta and theta itself, weighted per pair by a ramp over
// [corr_low, corr_high] times ext_factor, and cos and sin are scaled by mscale
// (engine/runtime/rope_scaling.h). Without scaling freq_scale = 1, ext_factor = 0, mscale = 1.
#include "common.glsl"
#include "nn_config.h"

layout(local_size_x_id = 0) in;  // NN_ELEMENTWISE_THREADS

layout(push_constant, scalar) uniform Push {
    Floats x;  // [tokens][n_heads][head_dim]
    uint total;    // tokens * n_heads * n_rot / 2
    uint n_heads;
    uint head_dim;
    uint half_rot;  // n_rot / 2
    uint pos0;
    uint neox;
    // -2 * log2(base) / n_rot, from the host in double and rounded once, so that the
    // frequency of pair i is exp2(i * log2_step) with the exponent off by one rounding only.
    float log2_step;
    float freq_scale;
    float ext_factor;
    float corr_low;
    float corr_high;
    float mscale;
} pc;

void main() {
    uint g = (gl_WorkGroupID.y * NN_GROUPS_X + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (g >= pc.total) return;
    uint i = g % pc.half_rot;
    uint head = g / pc.half_rot;  // token * n_heads + head
    uint t = head / pc.n_heads;
    uint base = head * pc.head_dim;
    uint a = base + (pc.neox != 0u ? i : 2u * i);
    uint b = a + (pc.neox != 0u ? pc.half_rot : 1u);

    float theta_extrap = float(pc.pos0 + t) * exp2(float(i) * pc.log2_step);
    float theta = theta_extrap;
    if (pc.freq_scale != 1.0 || pc.ext_factor != 0.0) {  // uniform: the same for every thread
        float theta_interp = pc.freq_scale * theta_extrap;
        float ramp = 1.0 - clamp((float(i) - pc.corr_low) / max(0.001, pc.corr_high - pc.corr_low), 0.0, 1.0);
        float mix = ramp * pc.ext_factor;
        theta = theta_interp * (1.0 - mix) + theta_extrap * mix;
    }
    float c = cos(theta) * pc.mscale, s = sin(theta) * pc.mscale;
    float x0 = pc.x.v[a], x1 = pc.x.v[b];
    pc.x.v[a] = x0 * c - x1 * s;
    pc.x.v[b] = x0 * s + x1 * c;
}
