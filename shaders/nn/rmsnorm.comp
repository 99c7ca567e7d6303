#version 460
#extension GL_GOOGLE_include_directive : require
// RMS norm over rows of n values:  out[r][i] = x[r][i] / sqrt(mean_i(x[r]^2) + eps) * weight[i].
// One workgroup per row; f32 sum of squares reduced as a tree in shared memory. out may be x:
// every thread reads its own elements before the reduction and writes them after it.
#include "common.glsl"
#include "nn_config.h"

layout(local_size_x_id = 0) in;  // NN_RMSNORM_THREADS, a power of two
const uint WG = gl_WorkGroupSize.x;

layout(push_constant, scalar) uniform Push {
    Floats x;       // [rows][n]
    Floats weight;  // [n]
    Floats dst;     // [rows][n], may equal x
    uint rows;
    uint n;
    float eps;
} pc;

shared float partial[WG];

void main() {
    uint row = gl_WorkGroupID.y * NN_GROUPS_X + gl_WorkGroupID.x;
    if (row >= pc.rows) return;  // uniform across the workgroup
    uint tid = gl_LocalInvocationID.x;
    uint base = row * pc.n;

    float sum = 0.0;
    for (uint i = tid; i < pc.n; i += WG) {
        float v = pc.x.v[base + i];
        sum += v * v;
    }
    partial[tid] = sum;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) partial[tid] += partial[tid + s];
        barrier();
    }
    float scale = inversesqrt(partial[0] / float(pc.n) + pc.eps);
    for (uint i = tid; i < pc.n; i += WG) pc.dst.v[base + i] = pc.x.v[base + i] * scale * pc.weight.v[i];
}
