// Internal to engine/quant: encoders and decoders of the block formats, each over `n_blocks`
// consecutive blocks (a matrix is one such run, see formats.h). `x`/`y` hold n_blocks *
// block_values floats, `out`/`in` n_blocks * block_bytes bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moevk::quant::detail {

// Little-endian field access, whatever the host's byte order.
inline uint16_t get_u16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t get_u32(const uint8_t* p) {
    return uint32_t(get_u16(p)) | (uint32_t(get_u16(p + 2)) << 16);
}
inline void put_u16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v & 0xFF);
    p[1] = static_cast<uint8_t>(v >> 8);
}
inline void put_u32(uint8_t* p, uint32_t v) {
    put_u16(p, static_cast<uint16_t>(v & 0xFFFF));
    put_u16(p + 2, static_cast<uint16_t>(v >> 16));
}

// quants_32.cpp: the 32-value blocks.
void encode_q4_0(const float* x, uint8_t* out, size_t n_blocks);
void decode_q4_0(const uint8_t* in, float* y, size_t n_blocks);
void encode_q4_1(const float* x, uint8_t* out, size_t n_blocks);
void decode_q4_1(const uint8_t* in, float* y, size_t n_blocks);
void encode_q5_0(const float* x, uint8_t* out, size_t n_blocks);
void decode_q5_0(const uint8_t* in, float* y, size_t n_blocks);
void encode_q5_1(const float* x, uint8_t* out, size_t n_blocks);
void decode_q5_1(const uint8_t* in, float* y, size_t n_blocks);
void encode_q8_0(const float* x, uint8_t* out, size_t n_blocks);
void decode_q8_0(const uint8_t* in, float* y, size_t n_blocks);
void encode_mxfp4(const float* x, uint8_t* out, size_t n_blocks);
void decode_mxfp4(const uint8_t* in, float* y, size_t n_blocks);

// k_quants.cpp: the 256-value super-blocks.
void encode_q4_k(const float* x, uint8_t* out, size_t n_blocks);
void decode_q4_k(const uint8_t* in, float* y, size_t n_blocks);
void encode_q5_k(const float* x, uint8_t* out, size_t n_blocks);
void decode_q5_k(const uint8_t* in, float* y, size_t n_blocks);
void encode_q6_k(const float* x, uint8_t* out, size_t n_blocks);
void decode_q6_k(const uint8_t* in, float* y, size_t n_blocks);

}  // namespace moevk::quant::detail
