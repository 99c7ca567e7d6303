#version 460
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
// Matrix-vector expert FFN for few tokens (decode), and through it every dense linear layer:
// weights dequantised in registers, no permutation. Output rows are indexed by pair.
//   GATE_UP: h[p][n] = act(x[p / pairs_per_token] . Wgate[n] + bg[n], x[...] . Wup[n] + bu[n])
//   else:    y[p][n] = h[p] . Wdown[n] + bd[n]
// with the expert's biases where the layer has them (include/expert_epilogue.glsl).
//
// Decode is bound by reading the weights once, so the layout serves the memory system. (The
// previous layout, one 64-thread workgroup per row and a six-barrier tree reduction, kept an H100
// at 7-12% of its copy bandwidth: tiny workgroups spending their time in barriers.)
// - A workgroup of WG threads is WG / LANES row groups; each row group owns ROWS
//   (MOE_MATVEC_ROWS_PER_THREAD) consecutive rows of one pair and its LANES lanes walk them
//   together. A workgroup thus covers ROWS * WG / LANES rows; the host computes its dispatch from
//   the same constants (moe::matvec_geometry).
// - A row is cut into slices (include/matvec_slices.glsl): slice s goes to lane s % LANES, so a
//   row group reads one contiguous span of the row per step, adjacent lanes adjacent bytes. The
//   loop takes STEPS steps at once so that each lane has several independent loads in flight.
// - A lane loads a slice's activations once and applies them to all of its rows (and to gate and
//   up), which divides the x loads (L1 traffic comparable to the weights' own) and the x sums
//   that offsets and minimums need among them. Two rows rather than more keeps enough threads
//   for small layers (Qwen3's 768-row experts) to fill a big GPU.
// - With SUBGROUP and LANES equal to the subgroup size, a row group is one subgroup and
//   subgroupAdd sums its lanes: no shared memory, no barrier. Without the feature (the variant
//   built without SUBGROUP), or when the device's subgroups do not match LANES, lanes are taken
//   from the local index instead and each row's partial sums meet in shared memory behind one
//   barrier, added in lane order by one thread.
// Every output is a fixed function of its row and x: its lanes, their slices, the order each
// lane adds them in, and the reduction depend only on the pipeline (format, LANES), never on
// d_out, the pair or the row's place in the workgroup. No atomics; rows are independent.
//
// Rows past the last row are clamped (read the last row again) rather than branched around, so
// every lane runs the same loop; only their stores are skipped.
#include "common.glsl"
#include "moe_config.h"
#include "weights.glsl"
#include "expert_epilogue.glsl"

layout(local_size_x_id = 0) in;  // moe::MatvecGeometry::threads
layout(constant_id = 1) const uint LANES = 32u;  // lanes per row group (a power of two <= WG)
// The x address is 16-byte aligned: the block formats read activations as vec4.
layout(constant_id = 2) const bool X_VEC4 = false;
const uint WG = gl_WorkGroupSize.x;
const uint GROUPS = WG / LANES;
const uint ROWS = MOE_MATVEC_ROWS_PER_THREAD;

#include "matvec_slices.glsl"

layout(push_constant, scalar) uniform Push {
    Floats x;     // GATE_UP: activations [T][d_in]; else h [n_pairs][d_in]
    Floats dst;   // [n_pairs][d_out]
    Uints ids;    // [n_pairs] expert of each pair, read when has_ids
    ExpertTable table;
    uint d_in;
    uint d_out;
    uint pairs_per_token;
    uint has_ids;  // 0: every pair uses table entry 0 (the shared expert)
    Floats bias0;  // GATE_UP: gate bias [E][d_out]; else down bias [E][d_out] (MOE_EXPERT_BIASES)
    Floats bias1;  // GATE_UP: up bias [E][d_out]
    uint flags;    // MOE_EXPERT_*
} pc;

#ifdef GATE_UP
const uint MATRICES = 2u;
#else
const uint MATRICES = 1u;
#endif
shared float partial[MATRICES * ROWS * WG];

// A row's output from its sums (a1 unused without GATE_UP).
float finish(uint expert, uint row, float a0, float a1) {
#ifdef GATE_UP
    return expert_activation(pc.flags, a0 + expert_bias(pc.bias0, pc.flags, expert, pc.d_out, row),
                             a1 + expert_bias(pc.bias1, pc.flags, expert, pc.d_out, row));
#else
    return a0 + expert_bias(pc.bias0, pc.flags, expert, pc.d_out, row);
#endif
}

void main() {
    uint tid = gl_LocalInvocationID.x;
#ifdef SUBGROUP
    // Uniform: the subgroup size is fixed for the pipeline. All subgroups are full when WG / LANES
    // of them hold the workgroup.
    bool by_subgroup = gl_SubgroupSize == LANES && gl_NumSubgroups == GROUPS;
    uint group = by_subgroup ? gl_SubgroupID : tid / LANES;
    uint lane = by_subgroup ? gl_SubgroupInvocationID : tid % LANES;
#else
    uint group = tid / LANES;
    uint lane = tid % LANES;
#endif
    // The pair is the grid's x and the row block its y: the workgroups that run side by side are
    // the same rows for every pair, so the pairs of one expert (a decode batch's tokens that chose
    // it, or every token of a dense layer) read those weight rows from memory about once and
    // from the cache after. Row blocks past the 65535 a dimension guarantees continue in z
    // (vocabulary projections).
    uint wg_row = (gl_WorkGroupID.z * gl_NumWorkGroups.y + gl_WorkGroupID.y) * GROUPS * ROWS;
    if (wg_row >= pc.d_out) return;  // uniform across the workgroup
    uint first_row = wg_row + group * ROWS;
    uint p = gl_WorkGroupID.x;
    uint expert = pc.has_ids != 0u ? pc.ids.v[p] : 0u;
#ifdef GATE_UP
    uint x_base = (p / pc.pairs_per_token) * pc.d_in;
    Uints w0 = pc.table.m[expert * 3u + MATRIX_GATE];
    Uints w1 = pc.table.m[expert * 3u + MATRIX_UP];
#else
    uint x_base = p * pc.d_in;
    Uints w0 = pc.table.m[expert * 3u + MATRIX_DOWN];
#endif

    uint rows[ROWS], offsets[ROWS];
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
        rows[r] = min(first_row + r, pc.d_out - 1u);
        offsets[r] = row_offset(rows[r], pc.d_in);
    }
    float acc0[ROWS], acc1[ROWS];
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
        acc0[r] = 0.0;
        acc1[r] = 0.0;
    }

    uint n_slices = row_slices(pc.d_in);
    uint s = lane;
    // STEPS steps at a time while they are all inside the row, so their loads can all be in
    // flight together; then one at a time. A lane adds its slices in order either way.
    for (; s + (STEPS - 1u) * LANES < n_slices; s += STEPS * LANES) {
        XSlice xs[STEPS];
        [[unroll]] for (uint k = 0u; k < STEPS; ++k) {
            xs[k] = load_x_slice(pc.x, x_base, s + k * LANES);
        }
        [[unroll]] for (uint k = 0u; k < STEPS; ++k) {
            [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
                acc0[r] += dot_slice(w0, offsets[r], s + k * LANES, xs[k]);
#ifdef GATE_UP
                acc1[r] += dot_slice(w1, offsets[r], s + k * LANES, xs[k]);
#endif
            }
        }
    }
    for (; s < n_slices; s += LANES) {
        XSlice xs = load_x_slice(pc.x, x_base, s);
        [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
            acc0[r] += dot_slice(w0, offsets[r], s, xs);
#ifdef GATE_UP
            acc1[r] += dot_slice(w1, offsets[r], s, xs);
#endif
        }
    }
#if defined(WEIGHT_F16) || defined(WEIGHT_BF16)
    // A row of odd length ends in half a slice; the lane next in turn takes it.
    if (n_slices * SLICE_VALUES < pc.d_in && lane == n_slices % LANES) {
        [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
            acc0[r] += dot_tail(w0, rows[r], pc.d_in, pc.x, x_base);
#ifdef GATE_UP
            acc1[r] += dot_tail(w1, rows[r], pc.d_in, pc.x, x_base);
#endif
        }
    }
#endif

#ifdef SUBGROUP
    if (by_subgroup) {
        [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
            acc0[r] = subgroupAdd(acc0[r]);
#ifdef GATE_UP
            acc1[r] = subgroupAdd(acc1[r]);
#endif
        }
        if (lane == 0u) {
            [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
                if (first_row + r >= pc.d_out) break;
                pc.dst.v[p * pc.d_out + first_row + r] = finish(expert, first_row + r, acc0[r], acc1[r]);
            }
        }
        return;
    }
#endif
    // group * LANES + lane == tid on this path.
    [[unroll]] for (uint r = 0u; r < ROWS; ++r) {
        partial[r * WG + tid] = acc0[r];
#ifdef GATE_UP
        partial[(ROWS + r) * WG + tid] = acc1[r];
#endif
    }
    barrier();
    for (uint r = lane; r < ROWS && first_row + r < pc.d_out; r += LANES) {
        uint at = r * WG + group * LANES;
        float a0 = 0.0;
        for (uint j = 0u; j < LANES; ++j) a0 += partial[at + j];
        float a1 = 0.0;
#ifdef GATE_UP
        at += ROWS * WG;
        for (uint j = 0u; j < LANES; ++j) a1 += partial[at + j];
#endif
        pc.dst.v[p * pc.d_out + first_row + r] = finish(expert, first_row + r, a0, a1);
    }
}
