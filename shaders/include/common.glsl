// Buffers are reached through device addresses (buffer_reference) passed in push constants.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_scalar_block_layout : require

layout(buffer_reference, scalar, buffer_reference_align = 4) buffer Floats { float v[]; };
layout(buffer_reference, scalar, buffer_reference_align = 4) buffer Uints { uint v[]; };

// Expert weight table: entry e*3 + {0: gate, 1: up, 2: down} is the address of that matrix.
// With every expert resident it points into the weights as loaded; paging rewrites entries.
layout(buffer_reference, scalar, buffer_reference_align = 8) buffer ExpertTable { Uints m[]; };

const uint MATRIX_GATE = 0u;
const uint MATRIX_UP = 1u;
const uint MATRIX_DOWN = 2u;
const uint DROPPED_ROW = 0xFFFFFFFFu;

float silu(float v) { return v / (1.0 + exp(-v)); }
