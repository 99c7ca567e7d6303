#version 460
#extension GL_GOOGLE_include_directive : require
// Token embedding lookup: out[t][i] = dequant(table[ids[t]])[i], table [n_vocab][n] in the
// weight format that the WEIGHT_* define selects (see weights.glsl). One thread per value.
#include "common.glsl"
#include "nn_config.h"
#include "weights.glsl"

layout(local_size_x_id = 0) in;  // NN_ELEMENTWISE_THREADS

layout(push_constant, scalar) uniform Push {
    Uints table;  // [n_vocab][n]
    Uints ids;    // [T], each below n_vocab
    Floats dst;   // [T][n]
    uint n;
    uint total;  // T * n
} pc;

void main() {
    uint g = (gl_WorkGroupID.y * NN_GROUPS_X + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (g >= pc.total) return;
    uint t = g / pc.n, i = g % pc.n;
    pc.dst.v[g] = load_weight(pc.table, pc.ids.v[t], i, pc.n);
}
