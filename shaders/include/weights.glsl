// Reads a row-major weight matrix W[rows][row_len] in the format that the WEIGHT_* define
// selects (layouts as GGUF stores them; see engine/quant/formats.h and k_quants.cpp), from
// 32-bit words so no 8/16-bit storage feature is needed. Blocks of 18, 22 and 210 bytes start
// on 2-byte boundaries only, MXFP4's 17-byte blocks on any byte, so fields are read through
// byte-offset helpers.
//   WEIGHT_F32, WEIGHT_F16, WEIGHT_BF16: plain values (a 16-bit row may start mid-word)
//   WEIGHT_Q4_0, _Q4_1, _Q5_0, _Q5_1, _Q8_0, _MXFP4: 32-value blocks; row_len is a multiple of 32
//   WEIGHT_Q4_K, _Q5_K, _Q6_K: 256-value super-blocks; row_len is a multiple of 256
//
// load_weight decodes one element (the grouped GEMM's tile loads, embeddings); the
// matrix-vector kernel decodes whole slices of a row instead (matvec_slices.glsl).

// --- byte access ---------------------------------------------------------------------------

uint load_u8(Uints m, uint byte_offset) {
    return bitfieldExtract(m.v[byte_offset >> 2], int((byte_offset & 3u) * 8u), 8);
}

int load_i8(Uints m, uint byte_offset) {
    return bitfieldExtract(int(m.v[byte_offset >> 2]), int((byte_offset & 3u) * 8u), 8);
}

// byte_offset even
uint load_u16(Uints m, uint byte_offset) {
    return (m.v[byte_offset >> 2] >> ((byte_offset & 2u) * 8u)) & 0xFFFFu;
}

// byte_offset even. A field that starts mid-word spans two words; the second index is the
// first's again when it does not, so nothing past the matrix is read, and lanes at either
// alignment (18-, 22- and 210-byte blocks mix them in one workgroup) take no divergent branch.
uint load_u32(Uints m, uint byte_offset) {
    uint w = byte_offset >> 2;
    uint mid = (byte_offset >> 1) & 1u;
    uint lo = m.v[w], hi = m.v[w + mid];
    return mid == 0u ? lo : (lo >> 16) | (hi << 16);
}

// Any byte offset. The second word is read only when the field reaches into it (else the first
// again), and shifted in by two steps so that no shift is by 32: no branch, nothing past the field.
uint load_u32_bytes(Uints m, uint byte_offset) {
    uint w = byte_offset >> 2;
    uint shift = (byte_offset & 3u) * 8u;
    uint lo = m.v[w], hi = m.v[w + min(shift, 1u)];
    return (lo >> shift) | ((hi << (31u - shift)) << 1u);
}

// 8 bytes at an even byte offset as two words. Three loads and a select rather than a branch:
// blocks of 18, 22, 34 and 210 bytes put both alignments side by side in one subgroup.
uvec2 load_u64(Uints m, uint byte_offset) {
    uint w = byte_offset >> 2;
    uint mid = (byte_offset >> 1) & 1u;
    uint a = m.v[w], b = m.v[w + 1u], c = m.v[w + 1u + mid];
    return mid == 0u ? uvec2(a, b) : uvec2((a >> 16) | (b << 16), (b >> 16) | (c << 16));
}

float load_f16_at(Uints m, uint byte_offset) { return unpackHalf2x16(load_u16(m, byte_offset)).x; }

float load_f16(Uints m, uint element) { return load_f16_at(m, element * 2u); }

// --- per-format constants and block helpers --------------------------------------------------

#if defined(WEIGHT_Q4_0)
const uint BLOCK_VALUES = 32u;
const uint BLOCK_BYTES = 18u;  // f16 d, qs[16]
const uint QS_OFFSET = 2u;     // where qs starts in the block
#elif defined(WEIGHT_Q4_1)
const uint BLOCK_VALUES = 32u;
const uint BLOCK_BYTES = 20u;  // f16 d, f16 m, qs[16]
const uint QS_OFFSET = 4u;
#elif defined(WEIGHT_Q5_0)
const uint BLOCK_VALUES = 32u;
const uint BLOCK_BYTES = 22u;  // f16 d, u32 qh, qs[16]
const uint QS_OFFSET = 6u;
#elif defined(WEIGHT_Q5_1)
const uint BLOCK_VALUES = 32u;
const uint BLOCK_BYTES = 24u;  // f16 d, f16 m, u32 qh, qs[16]
const uint QS_OFFSET = 8u;
#elif defined(WEIGHT_Q8_0)
const uint BLOCK_VALUES = 32u;
const uint BLOCK_BYTES = 34u;  // f16 d, int8 q[32]
#elif defined(WEIGHT_MXFP4)
const uint BLOCK_VALUES = 32u;
const uint BLOCK_BYTES = 17u;  // E8M0 e, qs[16] (E2M1 codes)
#elif defined(WEIGHT_Q4_K)
const uint BLOCK_VALUES = 256u;
const uint BLOCK_BYTES = 144u;  // f16 d, f16 dmin, scales[12], qs[128]
#elif defined(WEIGHT_Q5_K)
const uint BLOCK_VALUES = 256u;
const uint BLOCK_BYTES = 176u;  // f16 d, f16 dmin, scales[12], qh[32], qs[128]
#elif defined(WEIGHT_Q6_K)
const uint BLOCK_VALUES = 256u;
const uint BLOCK_BYTES = 210u;  // ql[128], qh[64], int8 scales[16], f16 d
#endif

#if !defined(WEIGHT_F32) && !defined(WEIGHT_F16) && !defined(WEIGHT_BF16)
// Byte offset of the block holding W[row][col].
uint block_offset(uint row, uint col, uint row_len) {
    return (row * (row_len / BLOCK_VALUES) + col / BLOCK_VALUES) * BLOCK_BYTES;
}
#endif

#if defined(WEIGHT_Q4_K) || defined(WEIGHT_Q5_K)
// Six-bit scale and min of sub-block j (0..7) from the 12 bytes at `s` (ggml's
// get_scale_min_k4): j < 4 in the low 6 bits of bytes j and j+4; j >= 4 with the low 4 bits in
// byte j+4 (scale low nibble, min high) and the top 2 in the top bits of bytes j-4 and j.
uvec2 k_scale_min(Uints m, uint s, uint j) {
    if (j < 4u) return uvec2(load_u8(m, s + j) & 63u, load_u8(m, s + j + 4u) & 63u);
    uint lo = load_u8(m, s + j + 4u);
    return uvec2((lo & 15u) | ((load_u8(m, s + j - 4u) >> 6) << 4),
                 (lo >> 4) | ((load_u8(m, s + j) >> 6) << 4));
}
#endif

#if defined(WEIGHT_Q6_K)
// Code 0..63 of value i (0..255) of the Q6_K super-block at `base`: half h = i / 128, quarter
// k = (i % 128) / 32, l = i % 32; low 4 bits in ql[64h + 32(k & 1) + l] (low nibble for k < 2),
// top 2 bits in qh[32h + l] at bit 2k.
uint q6_k_code(Uints m, uint base, uint i) {
    uint h = i >> 7, k = (i >> 5) & 3u, l = i & 31u;
    uint lo = (load_u8(m, base + 64u * h + 32u * (k & 1u) + l) >> (4u * (k >> 1))) & 15u;
    uint hi = (load_u8(m, base + 128u + 32u * h + l) >> (2u * k)) & 3u;
    return lo | (hi << 4);
}
#endif

#if defined(WEIGHT_MXFP4)
// Twice the E2M1 value of a 4-bit code (ggml's kvalues_mxfp4): the magnitudes 0 1 2 3 4 6 8 12
// one a nibble, bit 3 the sign. Negated as an integer, so code 8 is +0 as in ggml's int8 table.
float mxfp4_value(uint code) {
    int magnitude = int((0xC8643210u >> ((code & 7u) * 4u)) & 15u);
    return float((code & 8u) != 0u ? -magnitude : magnitude);
}

// The block scale 2^(e - 128) as float bits, as ggml's GGML_E8M0_TO_FP32_HALF builds it: e = 0
// and 1 are the subnormals 2^-128 and 2^-127 (zero where the device flushes subnormals).
float mxfp4_scale(uint e) { return uintBitsToFloat(e < 2u ? 0x00200000u << e : (e - 1u) << 23); }
#endif

// --- one element ---------------------------------------------------------------------------

float load_weight(Uints m, uint row, uint col, uint row_len) {
#if defined(WEIGHT_F32)
    return uintBitsToFloat(m.v[row * row_len + col]);
#elif defined(WEIGHT_F16)
    return load_f16(m, row * row_len + col);
#elif defined(WEIGHT_BF16)
    return uintBitsToFloat(load_u16(m, (row * row_len + col) * 2u) << 16);
#elif defined(WEIGHT_Q4_0) || defined(WEIGHT_Q4_1) || defined(WEIGHT_Q5_0) || defined(WEIGHT_Q5_1)
    // Byte j of qs holds value j (low nibble) and value j + 16 (high nibble).
    uint base = block_offset(row, col, row_len);
    uint i = col % 32u;
    const uint qs = QS_OFFSET;
    uint q = (load_u8(m, base + qs + (i & 15u)) >> ((i >> 4) * 4u)) & 15u;
#if defined(WEIGHT_Q5_0) || defined(WEIGHT_Q5_1)
    q |= ((load_u32(m, base + qs - 4u) >> i) & 1u) << 4;  // bit 4 of value i is bit i of qh
#endif
    float d = load_f16_at(m, base);
#if defined(WEIGHT_Q4_0)
    return d * float(int(q) - 8);
#elif defined(WEIGHT_Q5_0)
    return d * float(int(q) - 16);
#else
    return d * float(q) + load_f16_at(m, base + 2u);
#endif
#elif defined(WEIGHT_Q8_0)
    uint base = block_offset(row, col, row_len);
    return load_f16_at(m, base) * float(load_i8(m, base + 2u + col % 32u));
#elif defined(WEIGHT_MXFP4)
    // As Q4_0's nibbles, after the exponent byte: byte j of qs holds value j low, j + 16 high.
    uint base = block_offset(row, col, row_len);
    uint i = col % 32u;
    uint q = (load_u8(m, base + 1u + (i & 15u)) >> ((i >> 4) * 4u)) & 15u;
    return mxfp4_value(q) * mxfp4_scale(load_u8(m, base));
#elif defined(WEIGHT_Q4_K) || defined(WEIGHT_Q5_K)
    // Sub-block j = i / 32; value i sits in qs[32 (j / 2) + i % 32], low nibble for even j.
    uint base = block_offset(row, col, row_len);
    uint i = col % 256u, j = i >> 5, l = i & 31u;
#if defined(WEIGHT_Q4_K)
    const uint qs = 16u;
#else
    const uint qs = 48u;
#endif
    uint q = (load_u8(m, base + qs + 32u * (j >> 1) + l) >> (4u * (j & 1u))) & 15u;
#if defined(WEIGHT_Q5_K)
    q |= ((load_u8(m, base + 16u + l) >> j) & 1u) << 4;  // bit 4 in qh[l], bit j
#endif
    uvec2 sm = k_scale_min(m, base + 4u, j);
    vec2 dm = unpackHalf2x16(m.v[base >> 2]);  // d, dmin: the block's first word
    return (dm.x * float(sm.x)) * float(q) - dm.y * float(sm.y);
#elif defined(WEIGHT_Q6_K)
    uint base = block_offset(row, col, row_len);
    uint i = col % 256u;
    float d = load_f16_at(m, base + 208u);
    return (d * float(load_i8(m, base + 192u + i / 16u))) * float(int(q6_k_code(m, base, i)) - 32);
#else
#error "define one WEIGHT_<format>: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 MXFP4 Q4_K Q5_K Q6_K"
#endif
}
