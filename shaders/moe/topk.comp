#version 460
#extension GL_GOOGLE_include_directive : require
// Gating and top-k per token (one workgroup per token, one thread per expert, E <= WG):
//   softmax: p = softmax(logits); selection by logit (same order as p, and exact)
//   sigmoid: p = sigmoid(logits); selection by p + bias[e] when a bias is given
//   (the bias, as in DeepSeek-V3, changes which experts win, never their weights)
//   softmax over the selected (gpt-oss): selection by logit, weights a softmax over the K winners'
//   logits
// K rounds of argmax, ties to the lower expert index. Weights are p of the winners, optionally
// renormalised to sum to 1, then multiplied by `scale`.
#include "common.glsl"

layout(local_size_x_id = 0) in;
const uint WG = gl_WorkGroupSize.x;

const uint GATING_SOFTMAX = 0u;
const uint GATING_SIGMOID = 1u;
const uint GATING_SOFTMAX_SELECTED = 2u;

layout(push_constant, scalar) uniform Push {
    Floats logits;   // [T][E]
    Floats bias;     // [E], read only when has_bias
    Uints ids;       // [T][K] out
    Floats weights;  // [T][K] out
    uint n_experts;
    uint k;
    uint gating;
    uint has_bias;
    uint renormalize;
    float scale;
} pc;

shared float red_value[WG];
shared uint red_index[WG];
shared float prob[WG];
shared uint winners[16];

// Reduces red_value with op max (or sum); result in red_value[0].
void reduce_max(uint tid) {
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red_value[tid] = max(red_value[tid], red_value[tid + s]);
        barrier();
    }
}
void reduce_sum(uint tid) {
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) red_value[tid] += red_value[tid + s];
        barrier();
    }
}

void main() {
    uint t = gl_WorkGroupID.x;
    uint e = gl_LocalInvocationID.x;
    bool live = e < pc.n_experts;
    float logit = live ? pc.logits.v[t * pc.n_experts + e] : 0.0;

    float p;
    float score;
    if (pc.gating == GATING_SOFTMAX) {
        red_value[e] = live ? logit : -3.4e38;
        barrier();
        reduce_max(e);
        float m = red_value[0];
        barrier();
        float ex = live ? exp(logit - m) : 0.0;
        red_value[e] = ex;
        barrier();
        reduce_sum(e);
        p = ex / red_value[0];
        score = pc.has_bias != 0u ? p + pc.bias.v[min(e, pc.n_experts - 1u)] : logit;
    } else if (pc.gating == GATING_SOFTMAX_SELECTED) {
        p = logit;  // the softmax comes after selection
        score = logit;
    } else {
        p = 1.0 / (1.0 + exp(-logit));
        score = pc.has_bias != 0u ? p + pc.bias.v[min(e, pc.n_experts - 1u)] : p;
    }
    // A NaN score (NaN weights or an overflow upstream) compares false with everything: left as
    // it is, no live expert would ever win a round and the winner would be the padding's id
    // 0xFFFFFFFF, which the expert kernels then index with. Ranked just above the padding, NaN
    // experts still win when nothing else is left, so every id is a valid expert and the NaN
    // goes on in the weights, where the host sees it in the logits.
    if (isnan(score)) score = -3.0e38;
    prob[e] = p;
    bool taken = !live;

    for (uint round = 0u; round < pc.k; ++round) {
        barrier();
        red_value[e] = taken ? -3.4e38 : score;
        red_index[e] = taken ? 0xFFFFFFFFu : e;
        barrier();
        for (uint s = WG / 2u; s > 0u; s >>= 1) {
            if (e < s) {
                float a = red_value[e], b = red_value[e + s];
                uint ia = red_index[e], ib = red_index[e + s];
                // Larger score wins; equal scores go to the lower index.
                if (b > a || (b == a && ib < ia)) {
                    red_value[e] = b;
                    red_index[e] = ib;
                }
            }
            barrier();
        }
        uint winner = red_index[0];
        if (e == winner) taken = true;
        if (e == 0u) winners[round] = winner;
    }
    barrier();

    if (e == 0u && pc.gating == GATING_SOFTMAX_SELECTED) {
        // winners[0] holds the largest logit.
        float m = prob[winners[0]];
        float sum = 0.0;
        for (uint k = 0u; k < pc.k; ++k) sum += exp(prob[winners[k]] - m);
        float norm = pc.scale / sum;
        for (uint k = 0u; k < pc.k; ++k) {
            pc.ids.v[t * pc.k + k] = winners[k];
            pc.weights.v[t * pc.k + k] = exp(prob[winners[k]] - m) * norm;
        }
    } else if (e == 0u) {
        float sum = 0.0;
        for (uint k = 0u; k < pc.k; ++k) sum += prob[winners[k]];
        float norm = pc.renormalize != 0u ? pc.scale / sum : pc.scale;
        for (uint k = 0u; k < pc.k; ++k) {
            pc.ids.v[t * pc.k + k] = winners[k];
            pc.weights.v[t * pc.k + k] = prob[winners[k]] * norm;
        }
    }
}
