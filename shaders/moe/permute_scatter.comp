#version 460
#extension GL_GOOGLE_include_directive : require
// Permute, step 3: a stable scatter. One workgroup per expert walks all pairs in order, ranks
// its own pairs with a workgroup prefix sum, and places pair p at row offsets[e] + rank, or
// drops it when rank >= kept[e]. Rows of an expert therefore stay in pair order (stable), and
// the result does not depend on scheduling.
#include "common.glsl"

layout(local_size_x_id = 0) in;
const uint WG = gl_WorkGroupSize.x;

layout(push_constant, scalar) uniform Push {
    Uints ids;       // [n_pairs]
    Uints kept;      // [E]
    Uints offsets;   // [E]
    Uints row_pair;  // [rows] out: pair held by each row
    Uints pair_row;  // [n_pairs] out: row of each pair, DROPPED_ROW when over capacity
    uint n_pairs;
} pc;

shared uint scan[WG];

void main() {
    uint e = gl_WorkGroupID.x;
    uint tid = gl_LocalInvocationID.x;
    uint kept = pc.kept.v[e];
    uint first_row = pc.offsets.v[e];
    uint running = 0u;
    for (uint base = 0u; base < pc.n_pairs; base += WG) {
        uint p = base + tid;
        bool mine = p < pc.n_pairs && pc.ids.v[p] == e;
        scan[tid] = mine ? 1u : 0u;
        barrier();
        // Inclusive Hillis-Steele scan over the chunk.
        for (uint s = 1u; s < WG; s <<= 1) {
            uint add = tid >= s ? scan[tid - s] : 0u;
            barrier();
            scan[tid] += add;
            barrier();
        }
        if (mine) {
            uint rank = running + scan[tid] - 1u;
            if (rank < kept) {
                pc.row_pair.v[first_row + rank] = p;
                pc.pair_row.v[p] = first_row + rank;
            } else {
                pc.pair_row.v[p] = DROPPED_ROW;
            }
        }
        running += scan[WG - 1u];
        barrier();
    }
}
