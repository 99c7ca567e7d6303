#version 460
#extension GL_GOOGLE_include_directive : require
// x[i] += y[i] for `count` values (the residual connection).
#include "common.glsl"
#include "nn_config.h"

layout(local_size_x_id = 0) in;  // NN_ELEMENTWISE_THREADS

layout(push_constant, scalar) uniform Push {
    Floats x;  // [count], updated in place
    Floats y;  // [count]
    uint count;
} pc;

void main() {
    uint i = (gl_WorkGroupID.y * NN_GROUPS_X + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i < pc.count) pc.x.v[i] += pc.y.v[i];
}
