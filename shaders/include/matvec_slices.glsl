// Row slices for the matrix-vector kernel (moe/expert_matvec.comp): the piece of a weight row
// that one lane decodes per step, in the format that the WEIGHT_* define selects. Include after
// weights.glsl, whose byte helpers and block constants it uses.
//
// A row is cut into row_slices(row_len) slices of SLICE_VALUES values; slice s goes to lane
// s % LANES, so adjacent lanes read adjacent bytes of the row and a row group sweeps one span of
// it per step; the kernel takes STEPS steps at once (more for the small slices, whose loads are
// few registers). Each slice is a whole unit of its format's layout, so a lane decodes a block
// scale once per slice and never needs its neighbours' bytes:
//   F32                 1 value (1 word)
//   F16, BF16           2 values (1 word; a row of odd length starts mid-word, and its last
//                       value is left to dot_tail)
//   Q4_0 Q4_1 Q5_0 Q5_1 8 values: a quarter of a 32-block, 4 bytes of qs holding values 4q..4q+3
//                       (low nibbles) and 16+4q..16+4q+3 (high nibbles)
//   Q8_0                8 values: a quarter of a 32-block, 8 consecutive int8 codes
//   MXFP4               8 values: as Q4_0, 4 bytes of qs (at any byte alignment) and the
//                       block's exponent byte
//   Q4_K Q5_K           16 values: 8 bytes of qs = 8 values of sub-block 2i (low nibbles) and the
//                       same 8 positions of sub-block 2i+1 (high nibbles), 16 slices per
//                       super-block
//   Q6_K                16 values: 8 ql bytes = 8 values of quarter c (low nibbles) and of
//                       quarter c+2 (high nibbles) of one half, with their 8 qh bytes
// The plain formats use one word per slice so that each load instruction of a subgroup reads
// consecutive words; the block formats take as much of a block as one scale covers.
//
// load_x_slice reads a slice's activations once; dot_slice then applies them to any number of
// rows (the kernel's rows per thread and the gate/up pair), so the x loads and the sums over x
// that offsets and minimums need (Q4_0: 8 * sum x, Q4_K: m * sum x, ...) are shared by those
// rows. Activations of the block formats come in aligned groups of 4 and are read as vec4 when
// X_VEC4 (a specialisation constant of the kernel) says the x address allows it.

layout(buffer_reference, scalar, buffer_reference_align = 16) buffer Vec4s { vec4 v[]; };

// x[i .. i+4), i a multiple of 4.
vec4 load_x4(Floats x, uint i) {
    if (X_VEC4) return Vec4s(x).v[i >> 2];
    return vec4(x.v[i], x.v[i + 1u], x.v[i + 2u], x.v[i + 3u]);
}

#if defined(WEIGHT_F32) || defined(WEIGHT_F16) || defined(WEIGHT_BF16)
// --- plain values ---------------------------------------------------------------------------

#if defined(WEIGHT_F32)
const uint SLICE_VALUES = 1u;
#else
const uint SLICE_VALUES = 2u;
#endif
const uint STEPS = 4u;

struct XSlice {
    float v[SLICE_VALUES];
};

uint row_slices(uint row_len) { return row_len / SLICE_VALUES; }

// Element index of the row's first value.
uint row_offset(uint row, uint row_len) { return row * row_len; }

XSlice load_x_slice(Floats x, uint x_base, uint s) {
    XSlice xs;
    [[unroll]] for (uint i = 0u; i < SLICE_VALUES; ++i) {
        xs.v[i] = x.v[x_base + s * SLICE_VALUES + i];
    }
    return xs;
}

float dot_slice(Uints m, uint row_off, uint s, XSlice xs) {
#if defined(WEIGHT_F32)
    return uintBitsToFloat(m.v[row_off + s]) * xs.v[0];
#else
    uint e = row_off + 2u * s;
    // Uniform across a row group: all its lanes read the same row.
    uint word = (e & 1u) == 0u ? m.v[e >> 1] : load_u32(m, 2u * e);
#if defined(WEIGHT_F16)
    vec2 w = unpackHalf2x16(word);
#else
    vec2 w = vec2(uintBitsToFloat(word << 16), uintBitsToFloat(word & 0xFFFF0000u));
#endif
    return w.x * xs.v[0] + w.y * xs.v[1];
#endif
}

// The values of a row past its last whole slice (F16 and BF16 rows of odd length).
float dot_tail(Uints m, uint row, uint row_len, Floats x, uint x_base) {
    float acc = 0.0;
    for (uint c = row_slices(row_len) * SLICE_VALUES; c < row_len; ++c)
        acc += load_weight(m, row, c, row_len) * x.v[x_base + c];
    return acc;
}

#elif defined(WEIGHT_Q4_0) || defined(WEIGHT_Q4_1) || defined(WEIGHT_Q5_0) || \
    defined(WEIGHT_Q5_1) || defined(WEIGHT_Q8_0) || defined(WEIGHT_MXFP4)
// --- 32-value blocks: four slices of 8 values per block --------------------------------------

const uint SLICE_VALUES = 8u;
const uint STEPS = 2u;

struct XSlice {
    vec4 a, b;  // Q8_0: values 8q..8q+7; else 4q..4q+3 and 16+4q..16+4q+3
    float sum;  // of all 8, for the formats with an offset or a minimum
};

uint row_slices(uint row_len) { return row_len / SLICE_VALUES; }

// Byte offset of the row's first block.
uint row_offset(uint row, uint row_len) { return row * (row_len / 32u) * BLOCK_BYTES; }

XSlice load_x_slice(Floats x, uint x_base, uint s) {
    uint col = x_base + (s >> 2) * 32u;
    uint q = s & 3u;
    XSlice xs;
#if defined(WEIGHT_Q8_0)
    xs.a = load_x4(x, col + 8u * q);
    xs.b = load_x4(x, col + 8u * q + 4u);
    xs.sum = 0.0;
#else
    xs.a = load_x4(x, col + 4u * q);
    xs.b = load_x4(x, col + 16u + 4u * q);
#if defined(WEIGHT_MXFP4)
    xs.sum = 0.0;  // no offset or minimum
#else
    xs.sum = dot(xs.a + xs.b, vec4(1.0));
#endif
#endif
    return xs;
}

float dot_slice(Uints m, uint row_off, uint s, XSlice xs) {
    uint base = row_off + (s >> 2) * BLOCK_BYTES;
    uint q = s & 3u;
#if defined(WEIGHT_Q8_0)
    uvec2 codes = load_u64(m, base + 2u + 8u * q);
    float acc = 0.0;
    [[unroll]] for (uint b = 0u; b < 4u; ++b) {
        acc += float(bitfieldExtract(int(codes.x), int(8u * b), 8)) * xs.a[b];
        acc += float(bitfieldExtract(int(codes.y), int(8u * b), 8)) * xs.b[b];
    }
    return load_f16_at(m, base) * acc;
#elif defined(WEIGHT_MXFP4)
    // Codes of values 4q+b (low nibbles) and 16+4q+b (high) in byte b of the word. d is a power
    // of two, so applying it once to the sum rounds as summing ggml's decoded values would
    // (barring subnormals and overflow).
    uint codes = load_u32_bytes(m, base + 1u + 4u * q);
    float acc = 0.0;
    [[unroll]] for (uint b = 0u; b < 4u; ++b) {
        acc += mxfp4_value((codes >> (8u * b)) & 15u) * xs.a[b] +
               mxfp4_value((codes >> (8u * b + 4u)) & 15u) * xs.b[b];
    }
    return mxfp4_scale(load_u8(m, base)) * acc;
#else
    const uint qs = QS_OFFSET;
#if defined(WEIGHT_Q4_1) || defined(WEIGHT_Q5_1)
    // 20- and 24-byte blocks: every field is word-aligned, and d, m share the first word.
    uint codes = m.v[(base + qs + 4u * q) >> 2];
    vec2 dm = unpackHalf2x16(m.v[base >> 2]);
#else
    uint codes = load_u32(m, base + qs + 4u * q);
    vec2 dm = vec2(load_f16_at(m, base), 0.0);
#endif
#if defined(WEIGHT_Q5_0) || defined(WEIGHT_Q5_1)
    // Bit 4 of value v is bit v of qh: bits 4q+b and 16+4q+b for this slice.
    uint qh = load_u32(m, base + qs - 4u) >> (4u * q);
#else
    uint qh = 0u;
#endif
    float acc = 0.0;
    [[unroll]] for (uint b = 0u; b < 4u; ++b) {
        uint lo = ((codes >> (8u * b)) & 15u) | (((qh >> b) & 1u) << 4);
        uint hi = ((codes >> (8u * b + 4u)) & 15u) | (((qh >> (16u + b)) & 1u) << 4);
        acc += float(lo) * xs.a[b] + float(hi) * xs.b[b];
    }
#if defined(WEIGHT_Q4_0)
    return dm.x * (acc - 8.0 * xs.sum);
#elif defined(WEIGHT_Q5_0)
    return dm.x * (acc - 16.0 * xs.sum);
#else
    return dm.x * acc + dm.y * xs.sum;
#endif
#endif
}

#else
// --- 256-value super-blocks: sixteen slices of 16 values ---------------------------------------

const uint SLICE_VALUES = 16u;
const uint STEPS = 2u;

// Two runs of 8 values that take different scales: lo = a0, a1, hi = b0, b1.
struct XSlice {
    vec4 a0, a1, b0, b1;
    float sum_a, sum_b;
};

uint row_slices(uint row_len) { return row_len / SLICE_VALUES; }

uint row_offset(uint row, uint row_len) { return row * (row_len / 256u) * BLOCK_BYTES; }

// Columns of slice s inside its super-block: Q4_K, Q5_K: sub-blocks 2i and 2i+1 at positions
// 8k..8k+7 (s = 4i + k); Q6_K: quarters c and c+2 of half h at positions 8t..8t+7
// (s = 8h + 4c + t).
XSlice load_x_slice(Floats x, uint x_base, uint s) {
    uint col = x_base + (s >> 4) * 256u;
#if defined(WEIGHT_Q6_K)
    uint h = (s >> 3) & 1u, c = (s >> 2) & 1u, t = s & 3u;
    uint a = col + 128u * h + 32u * c + 8u * t, b = a + 64u;
#else
    uint i = (s >> 2) & 3u, k = s & 3u;
    uint a = col + 64u * i + 8u * k, b = a + 32u;
#endif
    XSlice xs;
    xs.a0 = load_x4(x, a);
    xs.a1 = load_x4(x, a + 4u);
    xs.b0 = load_x4(x, b);
    xs.b1 = load_x4(x, b + 4u);
    xs.sum_a = dot(xs.a0 + xs.a1, vec4(1.0));
    xs.sum_b = dot(xs.b0 + xs.b1, vec4(1.0));
    return xs;
}

// sum over the 8 codes of each run times x, for 8 codes in the 4-bit fields at `shift` of two
// words (one code a byte) with a fifth and sixth bit from `high`.
float dot8(uvec2 codes, uint shift, uvec2 high, uint high_shift, uint high_mask, vec4 x0, vec4 x1) {
    float acc = 0.0;
    [[unroll]] for (uint b = 0u; b < 4u; ++b) {
        uint q0 = ((codes.x >> (8u * b + shift)) & 15u) |
                  (((high.x >> (8u * b + high_shift)) & high_mask) << 4);
        uint q1 = ((codes.y >> (8u * b + shift)) & 15u) |
                  (((high.y >> (8u * b + high_shift)) & high_mask) << 4);
        acc += float(q0) * x0[b] + float(q1) * x1[b];
    }
    return acc;
}

float dot_slice(Uints m, uint row_off, uint s, XSlice xs) {
    uint base = row_off + (s >> 4) * BLOCK_BYTES;
#if defined(WEIGHT_Q6_K)
    // ql[64h + 32c + 8t ..] low nibbles: quarter c, high nibbles: quarter c+2; qh[32h + 8t ..]
    // bits 2c and 2c+4 are their top two bits. Scales (int8, one per 16 values) at
    // 8h + 2k + t/2 for quarter k. Codes are offset by 32.
    uint h = (s >> 3) & 1u, c = (s >> 2) & 1u, t = s & 3u;
    uvec2 ql = load_u64(m, base + 64u * h + 32u * c + 8u * t);
    uvec2 qh = load_u64(m, base + 128u + 32u * h + 8u * t);
    float sum_a = dot8(ql, 0u, qh, 2u * c, 3u, xs.a0, xs.a1);
    float sum_b = dot8(ql, 4u, qh, 2u * c + 4u, 3u, xs.b0, xs.b1);
    uint sc = base + 192u + 8u * h + 2u * c + (t >> 1);
    float d = load_f16_at(m, base + 208u);
    return (d * float(load_i8(m, sc))) * (sum_a - 32.0 * xs.sum_a) +
           (d * float(load_i8(m, sc + 4u))) * (sum_b - 32.0 * xs.sum_b);
#else
    // 144- and 176-byte blocks: word-aligned throughout. d, dmin in the first word, then the 12
    // bytes of 6-bit scales and mins (ggml's get_scale_min_k4, for four sub-blocks at once).
    uint i = (s >> 2) & 3u, k = s & 3u;
    uint w = base >> 2;
    vec2 dm = unpackHalf2x16(m.v[w]);
    uint s0 = m.v[w + 1u], s1 = m.v[w + 2u], s2 = m.v[w + 3u];
    // Sub-blocks 0..3: low 6 bits of bytes j (scale) and j+4 (min). 4..7: low / high nibble of
    // byte j+4 with the top two bits of bytes j-4 (scale) and j (min) above them.
    uint scales = i < 2u ? s0 & 0x3F3F3F3Fu : (s2 & 0x0F0F0F0Fu) | ((s0 >> 2) & 0x30303030u);
    uint mins = i < 2u ? s1 & 0x3F3F3F3Fu : ((s2 >> 4) & 0x0F0F0F0Fu) | ((s1 >> 2) & 0x30303030u);
    uint at = 16u * (i & 1u);  // bit of sub-block 2i's byte; 2i+1 follows
    vec2 sc = vec2(float((scales >> at) & 0xFFu), float((scales >> (at + 8u)) & 0xFFu));
    vec2 mn = vec2(float((mins >> at) & 0xFFu), float((mins >> (at + 8u)) & 0xFFu));
#if defined(WEIGHT_Q4_K)
    uvec2 qs = uvec2(m.v[w + 4u + 8u * i + 2u * k], m.v[w + 5u + 8u * i + 2u * k]);
    uvec2 qh = uvec2(0u);
#else
    // qh[8k ..]: bit j of byte l is bit 4 of value l of sub-block j.
    uvec2 qs = uvec2(m.v[w + 12u + 8u * i + 2u * k], m.v[w + 13u + 8u * i + 2u * k]);
    uvec2 qh = uvec2(m.v[w + 4u + 2u * k], m.v[w + 5u + 2u * k]);
#endif
    float sum_a = dot8(qs, 0u, qh, 2u * i, 1u, xs.a0, xs.a1);
    float sum_b = dot8(qs, 4u, qh, 2u * i + 1u, 1u, xs.b0, xs.b1);
    return (dm.x * sc.x) * sum_a - (dm.y * mn.x) * xs.sum_a + (dm.x * sc.y) * sum_b -
           (dm.y * mn.y) * xs.sum_b;
#endif
}
#endif
