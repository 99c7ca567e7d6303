#version 460
// Bandwidth probe: copies n 16-byte vectors from src to dst with a grid-stride loop. The bytes
// read plus written over the GPU time give the device's practical copy bandwidth.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_scalar_block_layout : require

layout(local_size_x_id = 0) in;
layout(buffer_reference, scalar, buffer_reference_align = 16) buffer Vec4s { uvec4 v[]; };

layout(push_constant, scalar) uniform Push {
    Vec4s src;
    Vec4s dst;
    uint n;
} pc;

void main() {
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) pc.dst.v[i] = pc.src.v[i];
}
