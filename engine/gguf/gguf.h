// GGUF files (v2 and v3): a reader over a read-only memory mapping that validates everything
// before use, and a writer for tests and tools.
//
// Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata
// key/value pairs, the tensor infos (name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64
// offset relative to the data section), padding to `general.alignment` (default 32), then the
// data section. Strings are u64 length + bytes (no terminator). All little-endian.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "quant/ggml_types.h"

namespace moevk::gguf {

enum class ValueType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
    U64 = 10, I64 = 11, F64 = 12,
};
const char* value_type_name(ValueType type);

struct Value;
struct Array {
    ValueType element_type = ValueType::U8;
    std::vector<Value> items;
};
// One metadata value. Integers keep their signedness in the variant (uint64_t for unsigned
// types, int64_t for signed ones); `type` records the exact type the file stored.
struct Value {
    ValueType type = ValueType::U8;
    std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;
};

struct TensorInfo {
    std::string name;
    std::vector<uint64_t> dims;  // ggml order: dims[0] is the row length (contiguous)
    quant::GgmlType type = quant::GgmlType::F32;
    uint64_t offset = 0;  // from the start of the file
    uint64_t bytes = 0;
    std::span<const uint8_t> data;  // into the mapping (reader), empty for a writer's infos

    uint64_t elements() const;
    uint64_t rows() const;  // product of dims[1..]
};

class File {
public:
    // Maps and validates the whole file. Throws Error(ErrorCode::BadFile) whose message names
    // the path and the item (key, tensor, field) that does not fit.
    static File open(const std::string& path);
    // The same checks over bytes in memory (the fuzz target); `name` stands in for the path in
    // errors. The bytes must outlive the File.
    static File parse(std::span<const uint8_t> bytes, const std::string& name);

    File(File&&) noexcept;
    File& operator=(File&&) noexcept;
    ~File();

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    // Aligned start of the data section; the file's size when a file without tensors ends
    // without padding (vocabulary files do).
    uint64_t data_offset() const { return data_offset_; }
    std::span<const uint8_t> bytes() const { return bytes_; }

    // Metadata in file order.
    const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
    const Value* find(std::string_view key) const;

    // Typed getters: nullopt when the key is absent; Error(BadFile) naming the file and key when
    // it is present with a type that does not convert (any integer type converts to an integer
    // if the value fits; integers and floats convert to double; bool only from Bool).
    std::optional<uint64_t> get_uint(std::string_view key) const;
    std::optional<int64_t> get_int(std::string_view key) const;
    std::optional<double> get_float(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::string> get_string(std::string_view key) const;
    std::optional<std::vector<std::string>> get_strings(std::string_view key) const;
    std::optional<std::vector<double>> get_floats(std::string_view key) const;
    std::optional<std::vector<int64_t>> get_ints(std::string_view key) const;
    // The same, but absence is an Error(BadFile) naming the file and key.
    uint64_t require_uint(std::string_view key) const;
    std::string require_string(std::string_view key) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

    // Copies `range`, a part of bytes(), into `dst` with pread() from the file instead of through
    // the mapping: reading a mapping whose file was truncated meanwhile is a SIGBUS, a pread a
    // short read, which this turns into Error(BadFile) naming the path and the bytes. A File
    // from parse() copies from its bytes.
    void read(std::span<const uint8_t> range, void* dst) const;

private:
    File() = default;
    struct Mapping;
    std::unique_ptr<Mapping> mapping_;
    std::string path_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::span<const uint8_t> bytes_;
    std::vector<std::pair<std::string, Value>> metadata_;
    std::vector<TensorInfo> tensors_;
    // Indices into metadata_ / tensors_ sorted by name, for find() and find_tensor().
    std::vector<size_t> metadata_order_;
    std::vector<size_t> tensor_order_;
};

// Builds a GGUF v3 file in memory. Tensors are laid out in the order added, each aligned.
class Writer {
public:
    void set(std::string key, Value value);
    void set_uint32(std::string key, uint32_t v);
    void set_uint64(std::string key, uint64_t v);
    void set_int32(std::string key, int32_t v);
    void set_float32(std::string key, float v);
    void set_bool(std::string key, bool v);
    void set_string(std::string key, std::string v);
    void set_strings(std::string key, std::vector<std::string> v);
    void set_float32s(std::string key, const std::vector<float>& v);
    void set_int32s(std::string key, const std::vector<int32_t>& v);
    // `data` must hold exactly the bytes the type and dims imply (checked).
    void add_tensor(std::string name, std::vector<uint64_t> dims, quant::GgmlType type, std::vector<uint8_t> data);
    // Lays tensors out on `alignment` (a power of two that fits u32) and sets general.alignment.
    // A general.alignment given to set() is written as is and leaves the layout alone (tests
    // use it to write bad files).
    void set_alignment(uint64_t alignment);

    std::vector<uint8_t> bytes() const;
    void write(const std::string& path) const;  // Error(BadFile) naming the path on failure

private:
    struct PendingTensor {
        std::string name;
        std::vector<uint64_t> dims;
        quant::GgmlType type;
        std::vector<uint8_t> data;
    };
    uint64_t alignment_ = 32;
    std::vector<std::pair<std::string, Value>> metadata_;
    std::vector<PendingTensor> tensors_;
};

}  // namespace moevk::gguf
