// Runs of 8 consecutive values of a weight row, decoded together: the grouped GEMM's tile loads
// (moe/expert_gemm.comp). Include after weights.glsl, whose byte helpers and block constants
// it uses.
//
// decode_run(m, row, k0, row_len, v) writes W[row][k0 .. k0+8) to v, k0 a multiple of 8 and
// k0 + 8 <= row_len. A run never straddles a block (blocks hold 32 or 256 values) nor a K-quant
// scale (Q4_K/Q5_K scale 32 values, Q6_K 16), so the block's scale and offset are read once for
// 8 values, the codes come from two or four 32-bit words, and each value is then the same
// expression of the same operands as load_weight's: the GEMM's results do not depend on which
// of the two decoded a weight.

#if defined(WEIGHT_F16) || defined(WEIGHT_BF16)
// Values e and e+1 of a 16-bit matrix as one word (e may be odd: rows of odd length).
vec2 load_pair16(Uints m, uint e) {
    uint word = load_u32(m, 2u * e);
#if defined(WEIGHT_F16)
    return unpackHalf2x16(word);
#else
    return vec2(uintBitsToFloat(word << 16), uintBitsToFloat(word & 0xFFFF0000u));
#endif
}
#endif

// 8 codes of `bits` bits at bit `shift` of each byte of the two words.
uint code_of(uvec2 bytes, uint i, uint shift, uint mask) {
    return ((i < 4u ? bytes.x : bytes.y) >> (8u * (i & 3u) + shift)) & mask;
}

void decode_run(Uints m, uint row, uint k0, uint row_len, out float v[8]) {
#if defined(WEIGHT_F32)
    uint e = row * row_len + k0;
    [[unroll]] for (uint i = 0u; i < 8u; ++i) v[i] = uintBitsToFloat(m.v[e + i]);
#elif defined(WEIGHT_F16) || defined(WEIGHT_BF16)
    uint e = row * row_len + k0;
    [[unroll]] for (uint i = 0u; i < 8u; i += 2u) {
        vec2 p = load_pair16(m, e + i);
        v[i] = p.x;
        v[i + 1u] = p.y;
    }
#elif defined(WEIGHT_Q4_0) || defined(WEIGHT_Q4_1) || defined(WEIGHT_Q5_0) || defined(WEIGHT_Q5_1)
    // Values i0..i0+7 of the block are the low (i0 < 16) or high nibbles of qs[i0 % 16 ..].
    uint base = block_offset(row, k0, row_len);
    uint i0 = k0 % 32u;
    const uint qs = QS_OFFSET;
    uvec2 codes = load_u64(m, base + qs + (i0 & 15u));
    uint shift = (i0 >> 4) * 4u;
#if defined(WEIGHT_Q5_0) || defined(WEIGHT_Q5_1)
    uint qh = load_u32(m, base + qs - 4u) >> i0;  // bit 4 of value i is bit i of qh
#endif
    float d = load_f16_at(m, base);
#if defined(WEIGHT_Q4_1) || defined(WEIGHT_Q5_1)
    float mn = load_f16_at(m, base + 2u);
#endif
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        uint q = code_of(codes, i, shift, 15u);
#if defined(WEIGHT_Q5_0) || defined(WEIGHT_Q5_1)
        q |= ((qh >> i) & 1u) << 4;
#endif
#if defined(WEIGHT_Q4_0)
        v[i] = d * float(int(q) - 8);
#elif defined(WEIGHT_Q5_0)
        v[i] = d * float(int(q) - 16);
#else
        v[i] = d * float(q) + mn;
#endif
    }
#elif defined(WEIGHT_Q8_0)
    uint base = block_offset(row, k0, row_len);
    uvec2 codes = load_u64(m, base + 2u + k0 % 32u);
    float d = load_f16_at(m, base);
    [[unroll]] for (uint i = 0u; i < 8u; ++i)
        v[i] = d * float(bitfieldExtract(int(i < 4u ? codes.x : codes.y), int(8u * (i & 3u)), 8));
#elif defined(WEIGHT_MXFP4)
    // As Q4_0's nibbles, after the exponent byte, at any byte alignment.
    uint base = block_offset(row, k0, row_len);
    uint i0 = k0 % 32u;
    uint at = base + 1u + (i0 & 15u);
    uvec2 codes = uvec2(load_u32_bytes(m, at), load_u32_bytes(m, at + 4u));
    uint shift = (i0 >> 4) * 4u;
    float d = mxfp4_scale(load_u8(m, base));
    [[unroll]] for (uint i = 0u; i < 8u; ++i) v[i] = mxfp4_value(code_of(codes, i, shift, 15u)) * d;
#elif defined(WEIGHT_Q4_K) || defined(WEIGHT_Q5_K)
    // Sub-block j = i / 32 of the super-block: values in qs[32 (j / 2) + l], low nibble for even
    // j; blocks of 144 and 176 bytes keep every field word-aligned.
    uint base = block_offset(row, k0, row_len);
    uint i0 = k0 % 256u, j = i0 >> 5, l0 = i0 & 31u;
#if defined(WEIGHT_Q4_K)
    const uint qs = 16u;
#else
    const uint qs = 48u;
#endif
    uint w = (base + qs + 32u * (j >> 1) + l0) >> 2;
    uvec2 codes = uvec2(m.v[w], m.v[w + 1u]);
    uint shift = 4u * (j & 1u);
#if defined(WEIGHT_Q5_K)
    uint h = (base + 16u + l0) >> 2;  // qh[l]: bit j is bit 4 of value l of sub-block j
    uvec2 high = uvec2(m.v[h], m.v[h + 1u]);
#endif
    uvec2 sm = k_scale_min(m, base + 4u, j);
    vec2 dm = unpackHalf2x16(m.v[base >> 2]);
    float scale = dm.x * float(sm.x), offset = dm.y * float(sm.y);
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        uint q = code_of(codes, i, shift, 15u);
#if defined(WEIGHT_Q5_K)
        q |= code_of(high, i, j, 1u) << 4;
#endif
        v[i] = scale * float(q) - offset;
    }
#elif defined(WEIGHT_Q6_K)
    // Value i: half h = i / 128, quarter k, l = i % 32; low 4 bits in ql[64h + 32(k & 1) + l]
    // (high nibble for k >= 2), top 2 in qh[32h + l] at bit 2k; one int8 scale per 16 values.
    uint base = block_offset(row, k0, row_len);
    uint i0 = k0 % 256u, h = i0 >> 7, k = (i0 >> 5) & 3u, l0 = i0 & 31u;
    uvec2 low = load_u64(m, base + 64u * h + 32u * (k & 1u) + l0);
    uvec2 high = load_u64(m, base + 128u + 32u * h + l0);
    float d = load_f16_at(m, base + 208u);
    float scale = d * float(load_i8(m, base + 192u + i0 / 16u));
    [[unroll]] for (uint i = 0u; i < 8u; ++i) {
        uint q = code_of(low, i, 4u * (k >> 1), 15u) | (code_of(high, i, 2u * k, 3u) << 4);
        v[i] = scale * float(int(q) - 32);
    }
#else
#error "define one WEIGHT_<format>: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 MXFP4 Q4_K Q5_K Q6_K"
#endif
}
