#version 460
#extension GL_GOOGLE_include_directive : require
// Permute, step 2 (one workgroup): caps each expert at `capacity` rows, lays the experts'
// rows out contiguously (exclusive scan), cuts them into row tiles for the grouped GEMM and
// writes that GEMM's indirect dispatch sizes, so no count goes back to the host.
#include "common.glsl"
#include "moe_config.h"

layout(local_size_x_id = 0) in;
const uint WG = gl_WorkGroupSize.x;

layout(push_constant, scalar) uniform Push {
    Uints counts;   // [E] pairs routed to each expert
    Uints kept;     // [E] out: min(counts, capacity)
    Uints offsets;  // [E] out: first row of each expert
    Uints tiles;    // [max_tiles][3] out: (expert, first row, rows) per GEMM row tile
    Uints meta;     // out: MOE_META_* words (moe_config.h)
    uint n_experts;
    uint capacity;       // rows an expert may take; 0xFFFFFFFF when uncapped
    uint tile_rows;      // rows per GEMM tile
    uint gate_up_groups_x;
    uint down_groups_x;
} pc;

// Per-expert results of the scan; WG >= E (the host checks E <= 256 = WG).
shared uint s_kept[WG];
shared uint s_offset[WG];
shared uint s_tile_first[WG];

void main() {
    uint tid = gl_LocalInvocationID.x;
    // E <= 256: a serial scan by one thread is short and keeps the order obvious.
    if (tid == 0u) {
        uint rows = 0u, tiles = 0u, dropped = 0u;
        for (uint e = 0u; e < pc.n_experts; ++e) {
            uint c = pc.counts.v[e];
            uint k = min(c, pc.capacity);
            s_kept[e] = k;
            s_offset[e] = rows;
            s_tile_first[e] = tiles;
            rows += k;
            dropped += c - k;
            tiles += (k + pc.tile_rows - 1u) / pc.tile_rows;
        }
        pc.meta.v[MOE_META_GATE_UP_ARGS + 0] = pc.gate_up_groups_x;
        pc.meta.v[MOE_META_GATE_UP_ARGS + 1] = tiles;
        pc.meta.v[MOE_META_GATE_UP_ARGS + 2] = 1u;
        pc.meta.v[MOE_META_DOWN_ARGS + 0] = pc.down_groups_x;
        pc.meta.v[MOE_META_DOWN_ARGS + 1] = tiles;
        pc.meta.v[MOE_META_DOWN_ARGS + 2] = 1u;
        pc.meta.v[MOE_META_ROWS] = rows;
        pc.meta.v[MOE_META_DROPPED] = dropped;
    }
    barrier();
    for (uint e = tid; e < pc.n_experts; e += WG) {
        uint k = s_kept[e];
        pc.kept.v[e] = k;
        pc.offsets.v[e] = s_offset[e];
        uint n_tiles = (k + pc.tile_rows - 1u) / pc.tile_rows;
        for (uint j = 0u; j < n_tiles; ++j) {
            uint tile = s_tile_first[e] + j;
            pc.tiles.v[tile * 3u + 0u] = e;
            pc.tiles.v[tile * 3u + 1u] = s_offset[e] + j * pc.tile_rows;
            pc.tiles.v[tile * 3u + 2u] = min(pc.tile_rows, k - j * pc.tile_rows);
        }
    }
}
