// What the expert kernels (expert_matvec.comp, expert_gemm.comp) do to a finished dot product,
// in one place so that both paths compute an output from its sums the same way: the expert's
// bias (gpt-oss) and the gated activation. `flags` holds MOE_EXPERT_* bits from moe_config.h.

// bias[expert][row] of a [E][d_out] bias array, or 0 when the layer has none.
float expert_bias(Floats bias, uint flags, uint expert, uint d_out, uint row) {
    return (flags & MOE_EXPERT_BIASES) != 0u ? bias.v[expert * d_out + row] : 0.0;
}

// h = act(g, u): silu(g) * u, or gpt-oss's clamped variant
// g' = min(g, 7), u' = clamp(u, -7, 7), h = g' * sigmoid(1.702 g') * (u' + 1).
float expert_activation(uint flags, float g, float u) {
    if ((flags & MOE_EXPERT_CLAMPED) != 0u) {
        float gc = min(g, 7.0);
        return gc / (1.0 + exp(-1.702 * gc)) * (clamp(u, -7.0, 7.0) + 1.0);
    }
    return silu(g) * u;
}
