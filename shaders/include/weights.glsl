// Reads one element of a row-major weight matrix W[rows][row_len] in the format that the
// WEIGHT_* define selects, from 32-bit words so no 8/16-bit storage feature is needed.
//   WEIGHT_F32:  float32
//   WEIGHT_F16:  IEEE half, two per word (rows may start mid-word when row_len is odd)
//   WEIGHT_Q8_0: GGUF Q8_0 blocks of 34 bytes: f16 scale d, then 32 int8 q; value = d * q.
//                row_len is a multiple of 32.

uint load_u16(Uints m, uint byte_offset) {
    return (m.v[byte_offset >> 2] >> ((byte_offset & 2u) * 8u)) & 0xFFFFu;
}

float load_f16(Uints m, uint element) {
    return unpackHalf2x16(load_u16(m, element * 2u)).x;
}

#if defined(WEIGHT_Q8_0)
const uint Q8_0_BLOCK = 32u;
const uint Q8_0_BYTES = 34u;

float q8_0_scale(Uints m, uint block) { return unpackHalf2x16(load_u16(m, block * Q8_0_BYTES)).x; }

int q8_0_quant(Uints m, uint block, uint i) {
    uint byte_offset = block * Q8_0_BYTES + 2u + i;
    uint word = m.v[byte_offset >> 2];
    return bitfieldExtract(int(word), int((byte_offset & 3u) * 8u), 8);
}
#endif

float load_weight(Uints m, uint row, uint col, uint row_len) {
#if defined(WEIGHT_F32)
    return uintBitsToFloat(m.v[row * row_len + col]);
#elif defined(WEIGHT_F16)
    return load_f16(m, row * row_len + col);
#elif defined(WEIGHT_Q8_0)
    uint block = row * (row_len / Q8_0_BLOCK) + col / Q8_0_BLOCK;
    return q8_0_scale(m, block) * float(q8_0_quant(m, block, col % Q8_0_BLOCK));
#else
#error "define one of WEIGHT_F32, WEIGHT_F16, WEIGHT_Q8_0"
#endif
}

// Partial dot product of W[row][col0 .. col0+32) with x[x_base + col0 ..], clipped at row_len.
// The matrix-vector kernels give each thread whole 32-element chunks so Q8_0 decodes its scale
// once per block.
float dot_chunk32(Uints m, uint row, uint col0, uint row_len, Floats x, uint x_base) {
    float acc = 0.0;
#if defined(WEIGHT_Q8_0)
    uint block = row * (row_len / Q8_0_BLOCK) + col0 / Q8_0_BLOCK;
    uint base = block * Q8_0_BYTES + 2u;  // first quant byte; always 2 bytes past a word start
    float q_sum = 0.0;
    for (uint i = 0u; i < 32u; i += 2u) {
        uint pair = load_u16(m, base + i);
        q_sum += float(bitfieldExtract(int(pair), 0, 8)) * x.v[x_base + col0 + i] +
                 float(bitfieldExtract(int(pair), 8, 8)) * x.v[x_base + col0 + i + 1u];
    }
    acc = q8_0_scale(m, block) * q_sum;
#else
    uint end = min(col0 + 32u, row_len);
    for (uint c = col0; c < end; ++c) acc += load_weight(m, row, c, row_len) * x.v[x_base + c];
#endif
    return acc;
}
