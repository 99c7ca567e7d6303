#version 460
#extension GL_GOOGLE_include_directive : require
// x[r][i] += bias[i] for `rows` rows of n values (the QKV bias of Qwen2-style attention).
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(push_constant, scalar) uniform Push {
    Floats x;     // [rows][n]
    Floats bias;  // [n]
    uint n;
    uint total;  // rows * n
} pc;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < pc.total) pc.x.v[i] += pc.bias.v[i % pc.n];
}
