// GGUF writer: checks every value and tensor as it is added (InvalidArgument naming the key or
// tensor), so that what bytes() produces is a file the reader accepts. The one exception is a
// general.alignment key given to set() directly: it is written as given and does not change
// the layout, which lets tests write files with a bad alignment on purpose.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <system_error>

#include "gguf/format.h"
#include "gguf/gguf.h"
#include "gpu/error.h"

namespace moevk::gguf {

namespace {

[[noreturn]] void bad_value(std::string_view key, const std::string& why) {
    throw Error(ErrorCode::InvalidArgument,
                "GGUF writer: metadata key '" + std::string(key) + "': " + why);
}

// The largest value each integer type holds (and the smallest, for signed types).
uint64_t unsigned_max(ValueType t) {
    return detail::scalar_bytes(t) == 8 ? std::numeric_limits<uint64_t>::max()
                                        : (uint64_t{1} << (8 * detail::scalar_bytes(t))) - 1;
}
int64_t signed_max(ValueType t) {
    return detail::scalar_bytes(t) == 8 ? std::numeric_limits<int64_t>::max()
                                        : (int64_t{1} << (8 * detail::scalar_bytes(t) - 1)) - 1;
}

// The variant alternative must match the declared type and the value must fit it, or the
// bytes written would not say what the caller meant.
void check_value(std::string_view key, const Value& v, int depth) {
    const std::string type = value_type_name(v.type);
    if (!detail::is_known_value_type(static_cast<uint32_t>(v.type)))
        bad_value(key, "unknown value type " + std::to_string(static_cast<uint32_t>(v.type)));
    if (detail::is_unsigned(v.type)) {
        const auto* u = std::get_if<uint64_t>(&v.data);
        if (!u) bad_value(key, type + " value must hold a uint64_t");
        if (*u > unsigned_max(v.type)) bad_value(key, std::to_string(*u) + " does not fit " + type);
    } else if (detail::is_signed(v.type)) {
        const auto* i = std::get_if<int64_t>(&v.data);
        if (!i) bad_value(key, type + " value must hold an int64_t");
        if (*i > signed_max(v.type) || *i < -signed_max(v.type) - 1)
            bad_value(key, std::to_string(*i) + " does not fit " + type);
    } else if (detail::is_float(v.type)) {
        const auto* d = std::get_if<double>(&v.data);
        if (!d) bad_value(key, type + " value must hold a double");
        // Converting a finite double beyond float's range is undefined behaviour.
        if (v.type == ValueType::F32 && std::isfinite(*d) &&
            std::fabs(*d) > std::numeric_limits<float>::max())
            bad_value(key, std::to_string(*d) + " does not fit f32");
    } else if (v.type == ValueType::Bool) {
        if (!std::holds_alternative<bool>(v.data)) bad_value(key, "bool value must hold a bool");
    } else if (v.type == ValueType::String) {
        if (!std::holds_alternative<std::string>(v.data))
            bad_value(key, "string value must hold a std::string");
    } else {
        const auto* a = std::get_if<Array>(&v.data);
        if (!a) bad_value(key, "array value must hold an Array");
        if (!detail::is_known_value_type(static_cast<uint32_t>(a->element_type)))
            bad_value(key, "unknown array element type " +
                               std::to_string(static_cast<uint32_t>(a->element_type)));
        if (a->element_type == ValueType::Array && depth + 1 >= detail::kMaxArrayDepth)
            bad_value(key, "arrays nested deeper than " + std::to_string(detail::kMaxArrayDepth) +
                               " levels");
        for (const Value& item : a->items) {
            if (item.type != a->element_type)
                bad_value(key, std::string("array of ") + value_type_name(a->element_type) +
                                   " holds a " + value_type_name(item.type));
            check_value(key, item, depth + 1);
        }
    }
}

// Appends little-endian encodings to a byte vector.
class Out {
  public:
    explicit Out(std::vector<uint8_t>& bytes) : bytes_(bytes) {}

    template <class T>
    void put(T v) {
        put_raw(&v, sizeof(T));
    }
    // resize + memcpy rather than insert: GCC 12 warns falsely (-Wstringop-overflow) on small
    // range inserts into a vector.
    void put_raw(const void* data, size_t n) {
        size_t at = bytes_.size();
        bytes_.resize(at + n);
        if (n) std::memcpy(bytes_.data() + at, data, n);
    }
    void put_string(std::string_view s) {
        put<uint64_t>(s.size());
        put_raw(s.data(), s.size());
    }
    void pad_to(uint64_t alignment) {
        bytes_.resize(*detail::align_up(bytes_.size(), alignment), 0);
    }

    void put_value(const Value& v) {
        switch (v.type) {
            case ValueType::U8:
                put<uint8_t>(static_cast<uint8_t>(std::get<uint64_t>(v.data)));
                break;
            case ValueType::I8:
                put<int8_t>(static_cast<int8_t>(std::get<int64_t>(v.data)));
                break;
            case ValueType::U16:
                put<uint16_t>(static_cast<uint16_t>(std::get<uint64_t>(v.data)));
                break;
            case ValueType::I16:
                put<int16_t>(static_cast<int16_t>(std::get<int64_t>(v.data)));
                break;
            case ValueType::U32:
                put<uint32_t>(static_cast<uint32_t>(std::get<uint64_t>(v.data)));
                break;
            case ValueType::I32:
                put<int32_t>(static_cast<int32_t>(std::get<int64_t>(v.data)));
                break;
            case ValueType::U64:
                put<uint64_t>(std::get<uint64_t>(v.data));
                break;
            case ValueType::I64:
                put<int64_t>(std::get<int64_t>(v.data));
                break;
            case ValueType::F32:
                put<float>(static_cast<float>(std::get<double>(v.data)));
                break;
            case ValueType::F64:
                put<double>(std::get<double>(v.data));
                break;
            case ValueType::Bool:
                put<uint8_t>(std::get<bool>(v.data) ? 1 : 0);
                break;
            case ValueType::String:
                put_string(std::get<std::string>(v.data));
                break;
            case ValueType::Array: {
                const Array& a = std::get<Array>(v.data);
                put<uint32_t>(static_cast<uint32_t>(a.element_type));
                put<uint64_t>(a.items.size());
                for (const Value& item : a.items) put_value(item);
                break;
            }
        }
    }

  private:
    std::vector<uint8_t>& bytes_;
};

Value array_of(ValueType element_type, std::vector<Value> items) {
    return Value{ValueType::Array, Array{element_type, std::move(items)}};
}

}  // namespace

void Writer::set(std::string key, Value value) {
    check_value(key, value, 0);
    for (auto& [k, v] : metadata_) {
        if (k == key) {  // keep the key's place, as a dict update would
            v = std::move(value);
            return;
        }
    }
    metadata_.emplace_back(std::move(key), std::move(value));
}

void Writer::set_uint32(std::string key, uint32_t v) {
    set(std::move(key), Value{ValueType::U32, uint64_t{v}});
}
void Writer::set_uint64(std::string key, uint64_t v) {
    set(std::move(key), Value{ValueType::U64, v});
}
void Writer::set_int32(std::string key, int32_t v) {
    set(std::move(key), Value{ValueType::I32, int64_t{v}});
}
void Writer::set_float32(std::string key, float v) {
    set(std::move(key), Value{ValueType::F32, double{v}});
}
void Writer::set_bool(std::string key, bool v) {
    set(std::move(key), Value{ValueType::Bool, v});
}
void Writer::set_string(std::string key, std::string v) {
    set(std::move(key), Value{ValueType::String, std::move(v)});
}

void Writer::set_strings(std::string key, std::vector<std::string> v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (std::string& s : v) items.push_back(Value{ValueType::String, std::move(s)});
    set(std::move(key), array_of(ValueType::String, std::move(items)));
}

void Writer::set_float32s(std::string key, const std::vector<float>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (float f : v) items.push_back(Value{ValueType::F32, double{f}});
    set(std::move(key), array_of(ValueType::F32, std::move(items)));
}

void Writer::set_int32s(std::string key, const std::vector<int32_t>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (int32_t i : v) items.push_back(Value{ValueType::I32, int64_t{i}});
    set(std::move(key), array_of(ValueType::I32, std::move(items)));
}

void Writer::set_alignment(uint64_t alignment) {
    if (!detail::is_power_of_two(alignment) || alignment > std::numeric_limits<uint32_t>::max())
        throw Error(ErrorCode::InvalidArgument, "GGUF writer: alignment " +
                                                    std::to_string(alignment) +
                                                    " is not a power of two that fits u32");
    alignment_ = alignment;
    set_uint32(std::string(detail::kAlignmentKey), static_cast<uint32_t>(alignment));
}

void Writer::add_tensor(std::string name, std::vector<uint64_t> dims, quant::GgmlType type,
                        std::vector<uint8_t> data) {
    auto fail = [&](const std::string& why) {
        throw Error(ErrorCode::InvalidArgument, "GGUF writer: tensor '" + name + "': " + why);
    };
    for (const PendingTensor& t : tensors_)
        if (t.name == name) fail("added twice");
    detail::TensorSize size = detail::tensor_size(dims, static_cast<uint32_t>(type));
    if (!size.error.empty()) fail(size.error);
    if (data.size() != size.bytes)
        fail(std::to_string(data.size()) + " bytes of data, but its type and dims take " +
             std::to_string(size.bytes));
    tensors_.push_back(PendingTensor{std::move(name), std::move(dims), type, std::move(data)});
}

std::vector<uint8_t> Writer::bytes() const {
    std::vector<uint8_t> bytes;
    Out out(bytes);
    out.put_raw(detail::kMagic, sizeof detail::kMagic);
    out.put<uint32_t>(detail::kWrittenVersion);
    out.put<uint64_t>(tensors_.size());
    out.put<uint64_t>(metadata_.size());
    for (const auto& [key, value] : metadata_) {
        out.put_string(key);
        out.put<uint32_t>(static_cast<uint32_t>(value.type));
        out.put_value(value);
    }
    // Offsets are relative to the data section, each tensor starting on an aligned byte.
    uint64_t offset = 0;
    for (const PendingTensor& t : tensors_) {
        offset = *detail::align_up(offset, alignment_);
        out.put_string(t.name);
        out.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
        for (uint64_t d : t.dims) out.put<uint64_t>(d);
        out.put<uint32_t>(static_cast<uint32_t>(t.type));
        out.put<uint64_t>(offset);
        offset += t.data.size();
    }
    for (const PendingTensor& t : tensors_) {
        out.pad_to(alignment_);
        out.put_raw(t.data.data(), t.data.size());
    }
    if (tensors_.empty()) out.pad_to(alignment_);  // an empty data section, still aligned
    return bytes;
}

void Writer::write(const std::string& path) const {
    std::vector<uint8_t> data = bytes();
    auto fail = [&](const char* what, int err) {
        throw Error(ErrorCode::BadFile,
                    path + ": " + what + ": " + std::generic_category().message(err));
    };
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("cannot create", errno);
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int err = errno;
            ::close(fd);
            fail("cannot write", err);
        }
        done += static_cast<size_t>(n);
    }
    // close() is where some file systems (NFS) report a failed write.
    if (::close(fd) != 0) fail("cannot close", errno);
}

}  // namespace moevk::gguf
