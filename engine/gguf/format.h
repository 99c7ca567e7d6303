// What the GGUF reader and writer share (private to engine/gguf): the fixed sizes, the limits
// the reader enforces, and the overflow-checked arithmetic behind a tensor's byte size. Keeping
// one copy means the writer can never produce a file that the reader rejects.
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "gguf/gguf.h"

namespace moevk::gguf::detail {

// Both sides copy integers to and from the file with memcpy, which is only right on a
// little-endian host (every target this engine runs on).
static_assert(std::endian::native == std::endian::little, "GGUF I/O assumes a little-endian host");

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kWrittenVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr std::string_view kAlignmentKey = "general.alignment";
constexpr uint32_t kMaxDims = 4;
// Arrays of arrays are legal but no known file uses them; the cap bounds the reader's
// recursion, which a crafted file could otherwise drive deep enough to overflow the stack.
constexpr int kMaxArrayDepth = 8;

// Smallest encodings, used to reject a count before anything is allocated for it: a count
// larger than the bytes left divided by these cannot be real.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;            // empty key, type, a u8
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim
constexpr uint64_t kMinArrayHeaderBytes = 4 + 8;             // element type, length

inline bool is_known_value_type(uint32_t id) {
    return id <= static_cast<uint32_t>(ValueType::F64);
}

// Bytes of one value of a fixed-size type; 0 for String and Array.
inline uint64_t scalar_bytes(ValueType type) {
    switch (type) {
        case ValueType::U8:
        case ValueType::I8:
        case ValueType::Bool:
            return 1;
        case ValueType::U16:
        case ValueType::I16:
            return 2;
        case ValueType::U32:
        case ValueType::I32:
        case ValueType::F32:
            return 4;
        case ValueType::U64:
        case ValueType::I64:
        case ValueType::F64:
            return 8;
        case ValueType::String:
        case ValueType::Array:
            return 0;
    }
    return 0;
}

// The least bytes one element of an array of `type` takes.
inline uint64_t min_element_bytes(ValueType type) {
    if (type == ValueType::String) return 8;
    if (type == ValueType::Array) return kMinArrayHeaderBytes;
    return scalar_bytes(type);
}

inline bool is_unsigned(ValueType t) {
    return t == ValueType::U8 || t == ValueType::U16 || t == ValueType::U32 || t == ValueType::U64;
}
inline bool is_signed(ValueType t) {
    return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}
inline bool is_float(ValueType t) {
    return t == ValueType::F32 || t == ValueType::F64;
}

inline bool is_power_of_two(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
    return r;
}
inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}
// `alignment` is a power of two; nullopt when rounding up passes 2^64.
inline std::optional<uint64_t> align_up(uint64_t v, uint64_t alignment) {
    std::optional<uint64_t> r = checked_add(v, alignment - 1);
    if (!r) return std::nullopt;
    return *r & ~(alignment - 1);
}

// A tensor's element count and byte size from its dims and ggml type id, or why they are not
// valid (`error` non-empty, phrased to follow the tensor's name).
struct TensorSize {
    uint64_t elements = 0;
    uint64_t bytes = 0;
    std::string error;
};

inline TensorSize tensor_size(std::span<const uint64_t> dims, uint32_t type_id) {
    TensorSize s;
    if (dims.empty() || dims.size() > kMaxDims) {
        s.error = "n_dims " + std::to_string(dims.size()) + " (must be 1 to 4)";
        return s;
    }
    std::optional<quant::GgmlTypeInfo> info = quant::ggml_type_info(type_id);
    if (!info) {
        s.error = "unknown ggml type id " + std::to_string(type_id);
        return s;
    }
    uint64_t elements = 1;
    for (size_t i = 0; i < dims.size(); ++i) {
        if (dims[i] == 0) {
            s.error = "dims[" + std::to_string(i) + "] is 0";
            return s;
        }
        std::optional<uint64_t> product = checked_mul(elements, dims[i]);
        if (!product) {
            s.error = "dims product overflows 64 bits at dims[" + std::to_string(i) + "]";
            return s;
        }
        elements = *product;
    }
    // Blocks never straddle rows, so the row (dims[0]) must hold whole blocks.
    if (dims[0] % info->block_values != 0) {
        s.error = "row length " + std::to_string(dims[0]) + " is not a multiple of " + info->name +
                  "'s block of " + std::to_string(info->block_values) + " values";
        return s;
    }
    std::optional<uint64_t> bytes = checked_mul(elements / info->block_values, info->block_bytes);
    if (!bytes) {
        s.error = "byte size overflows 64 bits";
        return s;
    }
    s.elements = elements;
    s.bytes = *bytes;
    return s;
}

}  // namespace moevk::gguf::detail
