#version 460
#extension GL_GOOGLE_include_directive : require
// Causal multi-head attention over a KV cache, with grouped-query heads:
//   out[t][h] = sum_j softmax_j(scale * q[t][h] . k[j][g]) v[j][g],  j in [0, pos0 + t],
//   g = h / group.
// With a window W (sliding-window layers) j runs over [max(0, pos0 + t + 1 - W), pos0 + t] only.
// With sinks (gpt-oss) the softmax's denominator also holds exp(sinks[h]): a logit of its own
// per head (not scaled) whose value is zero.
// One workgroup per (head, token). Keys are visited NN_ATTN_BLOCK at a time with a running max m
// and running sum l (online softmax): each block's probabilities are taken against the new max,
// and what was accumulated so far is rescaled by exp(m_old - m_new). Nothing is kept per key, so
// any context length works with fixed shared memory; everything is f32.
//   KV_F32: the caches hold f32
//   KV_F16: the caches hold IEEE halves, two per word (head_dim is even)
#include "common.glsl"
#include "nn_config.h"

layout(local_size_x_id = 0) in;  // NN_ATTN_THREADS == NN_ATTN_BLOCK
const uint WG = gl_WorkGroupSize.x;
const uint DPT = NN_ATTN_DIMS_PER_THREAD;
// Below any real score; never reaches exp() (masked keys get probability 0 directly).
const float NEG_BIG = -3.0e38;

layout(push_constant, scalar) uniform Push {
    Floats q;    // [T][n_heads][head_dim]
    Uints k;     // [n_ctx][n_kv_heads][head_dim]
    Uints v;     // [n_ctx][n_kv_heads][head_dim]
    Floats dst;  // [T][n_heads][head_dim]
    Floats sinks;  // [n_heads], read when has_sinks
    uint pos0;
    uint n_heads;
    uint group;   // n_heads / n_kv_heads
    uint kv_row;  // n_kv_heads * head_dim: values per cache position
    uint head_dim;
    float scale;
    uint window;  // 0: every earlier position
    uint has_sinks;
} pc;

shared float qs[NN_ATTN_MAX_HEAD_DIM];
shared float probs[WG];  // the block's probabilities, read by every thread for its dims of V
shared float red[WG];

float load_kv(Uints m, uint element) {
#if defined(KV_F32)
    return uintBitsToFloat(m.v[element]);
#elif defined(KV_F16)
    vec2 pair = unpackHalf2x16(m.v[element >> 1]);
    return (element & 1u) != 0u ? pair.y : pair.x;
#else
#error "define KV_F32 or KV_F16"
#endif
}

// q . k[row], the key row starting at element `first` (a word boundary for KV_F16).
float dot_key(uint first) {
    float acc = 0.0;
#if defined(KV_F16)
    for (uint d = 0u; d < pc.head_dim; d += 2u) {
        vec2 kk = unpackHalf2x16(pc.k.v[(first + d) >> 1]);
        acc += qs[d] * kk.x + qs[d + 1u] * kk.y;
    }
#else
    for (uint d = 0u; d < pc.head_dim; ++d) acc += qs[d] * load_kv(pc.k, first + d);
#endif
    return acc;
}

void main() {
    uint h = gl_WorkGroupID.x;
    uint t = gl_WorkGroupID.y;
    uint tid = gl_LocalInvocationID.x;
    uint kv_base = (h / pc.group) * pc.head_dim;  // this head's slice of a cache position
    uint q_base = (t * pc.n_heads + h) * pc.head_dim;
    for (uint d = tid; d < pc.head_dim; d += WG) qs[d] = pc.q.v[q_base + d];
    barrier();

    uint n_keys = pc.pos0 + t + 1u;  // causal: positions 0 .. pos0 + t
    uint first = pc.window != 0u && n_keys > pc.window ? n_keys - pc.window : 0u;
    float m = NEG_BIG;
    float l = 0.0;
    float acc[DPT];
    for (uint r = 0u; r < DPT; ++r) acc[r] = 0.0;

    for (uint j0 = first; j0 < n_keys; j0 += WG) {
        // Thread tid scores key j0 + tid; only the last block has keys past n_keys.
        uint j = j0 + tid;
        bool valid = j < n_keys;
        float s = valid ? dot_key(j * pc.kv_row + kv_base) * pc.scale : NEG_BIG;
        red[tid] = s;
        barrier();
        for (uint w = WG / 2u; w > 0u; w >>= 1) {
            if (tid < w) red[tid] = max(red[tid], red[tid + w]);
            barrier();
        }
        float m_new = max(m, red[0]);  // finite: every block holds at least one valid key
        barrier();                     // all have read red[0] before it is reused

        float p = valid ? exp(s - m_new) : 0.0;
        probs[tid] = p;
        red[tid] = p;
        barrier();
        for (uint w = WG / 2u; w > 0u; w >>= 1) {
            if (tid < w) red[tid] += red[tid + w];
            barrier();
        }
        // Nothing accumulated before the first block, and m is not a score yet there.
        float rescale = j0 == first ? 0.0 : exp(m - m_new);
        l = l * rescale + red[0];
        m = m_new;

        uint n_block = min(WG, n_keys - j0);
        for (uint r = 0u; r < DPT; ++r) {
            uint d = tid + r * WG;
            if (d >= pc.head_dim) break;
            float a = acc[r] * rescale;
            uint e = j0 * pc.kv_row + kv_base + d;
            for (uint jj = 0u; jj < n_block; ++jj, e += pc.kv_row) a += probs[jj] * load_kv(pc.v, e);
            acc[r] = a;
        }
        barrier();  // probs and red are rewritten by the next block
    }

    float rescale = 1.0;
    if (pc.has_sinks != 0u) {
        float sink = pc.sinks.v[h];
        float m_new = max(m, sink);
        rescale = exp(m - m_new);
        l = l * rescale + exp(sink - m_new);
    }
    for (uint r = 0u; r < DPT; ++r) {
        uint d = tid + r * WG;
        if (d < pc.head_dim) pc.dst.v[q_base + d] = acc[r] * rescale / l;
    }
}
