#version 460
#extension GL_GOOGLE_include_directive : require
// Appends T rows to a KV cache: cache[pos0 + t][j] = src[t][j], src f32 [T][row].
//   KV_F32: the cache holds f32
//   KV_F16: the cache holds IEEE halves, two per 32-bit word (row is even, so a row starts on a
//           word); one thread per word
#include "common.glsl"
#include "nn_config.h"

layout(local_size_x_id = 0) in;  // NN_ELEMENTWISE_THREADS

layout(push_constant, scalar) uniform Push {
    Floats src;  // [T][row]
    Uints cache;  // [n_ctx][row] in the cache format
    uint count;   // KV_F32: T * row values; KV_F16: T * row / 2 words
    uint first;   // KV_F32: pos0 * row; KV_F16: pos0 * row / 2
} pc;

void main() {
    uint i = (gl_WorkGroupID.y * NN_GROUPS_X + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= pc.count) return;
#if defined(KV_F32)
    pc.cache.v[pc.first + i] = floatBitsToUint(pc.src.v[i]);
#elif defined(KV_F16)
    pc.cache.v[pc.first + i] = packHalf2x16(vec2(pc.src.v[2u * i], pc.src.v[2u * i + 1u]));
#else
#error "define KV_F32 or KV_F16"
#endif
}
