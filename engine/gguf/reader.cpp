// GGUF reader: every count, length and offset is checked against the bytes that are actually
// there before it is used, so a truncated or hostile file ends in an Error, never in a huge
// allocation, an out-of-bounds read or a crash.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <system_error>

#include "gguf/format.h"
#include "gguf/gguf.h"
#include "gguf/printable.h"
#include "gpu/error.h"

namespace moevk::gguf {

using detail::checked_add;

const char* value_type_name(ValueType type) {
    switch (type) {
        case ValueType::U8:
            return "u8";
        case ValueType::I8:
            return "i8";
        case ValueType::U16:
            return "u16";
        case ValueType::I16:
            return "i16";
        case ValueType::U32:
            return "u32";
        case ValueType::I32:
            return "i32";
        case ValueType::F32:
            return "f32";
        case ValueType::Bool:
            return "bool";
        case ValueType::String:
            return "string";
        case ValueType::Array:
            return "array";
        case ValueType::U64:
            return "u64";
        case ValueType::I64:
            return "i64";
        case ValueType::F64:
            return "f64";
    }
    return "unknown";
}

uint64_t TensorInfo::elements() const {
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    return n;
}

uint64_t TensorInfo::rows() const {
    uint64_t n = 1;
    for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
    return n;
}

// The read-only mapping File::open makes, and the descriptor read() reads through; both go
// with the File.
struct File::Mapping {
    void* address = nullptr;
    size_t size = 0;
    int fd = -1;
    ~Mapping() {
        if (address) munmap(address, size);
        if (fd >= 0) ::close(fd);
    }
};

File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

namespace {

constexpr uint64_t kNoIndex = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kTensorCountAt = 8;  // after the magic and the version

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

// Reads the file front to back. `item` names what is being read ("tensor count", "metadata
// key 'x'"); `index` adds the array element; errors give the byte where the last field read
// began. Together they say exactly where a file went wrong.
class Cursor {
  public:
    Cursor(std::span<const uint8_t> bytes, const std::string& file) : bytes_(bytes), file_(file) {}

    uint64_t pos() const { return pos_; }
    uint64_t left() const { return bytes_.size() - pos_; }
    const std::string& file() const { return file_; }

    [[noreturn]] void fail_at(uint64_t at, std::string_view item, uint64_t index,
                              const std::string& why) const {
        std::string where(item);
        if (index != kNoIndex) where += " element " + std::to_string(index);
        throw Error(ErrorCode::BadFile,
                    file_ + ": " + where + ": " + why + " (at byte " + std::to_string(at) + ")");
    }
    [[noreturn]] void fail(std::string_view item, uint64_t index, const std::string& why) const {
        fail_at(field_, item, index, why);
    }

    // `n` bytes, checked to be there; the pointer is into the input.
    const uint8_t* read_bytes(uint64_t n, std::string_view item, uint64_t index = kNoIndex) {
        field_ = pos_;
        if (n > left())
            fail(item, index,
                 "truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(left()) +
                     " left");
        const uint8_t* p = bytes_.data() + pos_;
        pos_ += n;
        return p;
    }

    template <class T>
    T read(std::string_view item, uint64_t index = kNoIndex) {
        T v;
        std::memcpy(&v, read_bytes(sizeof(T), item, index), sizeof(T));
        return v;
    }

    std::string read_string(std::string_view item, uint64_t index = kNoIndex) {
        uint64_t n = read<uint64_t>(item, index);
        if (n > left())
            fail(item, index,
                 "string length " + std::to_string(n) + " exceeds the " + std::to_string(left()) +
                     " bytes left");
        std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
        pos_ += n;  // field_ stays at the length, where a bad string starts
        return s;
    }

    // A count of things each at least `min_bytes` long: fails before the caller allocates for
    // a count the remaining bytes cannot hold.
    uint64_t read_count(std::string_view item, uint64_t min_bytes, uint64_t index = kNoIndex) {
        uint64_t n = read<uint64_t>(item, index);
        if (n > left() / min_bytes)
            fail(item, index,
                 std::to_string(n) + " entries of at least " + std::to_string(min_bytes) +
                     " bytes each cannot fit in the " + std::to_string(left()) + " bytes left");
        return n;
    }

  private:
    std::span<const uint8_t> bytes_;
    const std::string& file_;
    uint64_t pos_ = 0;
    uint64_t field_ = 0;
};

ValueType read_value_type(Cursor& c, std::string_view item, uint64_t index) {
    uint32_t id = c.read<uint32_t>(item, index);
    if (!detail::is_known_value_type(id))
        c.fail(item, index, "unknown value type " + std::to_string(id));
    return static_cast<ValueType>(id);
}

Value read_value(Cursor& c, ValueType type, std::string_view item, uint64_t index, int depth);

Array read_array(Cursor& c, std::string_view item, uint64_t index, int depth) {
    Array a;
    a.element_type = read_value_type(c, item, index);
    if (a.element_type == ValueType::Array && depth + 1 >= detail::kMaxArrayDepth)
        throw Error(ErrorCode::Unsupported, c.file() + ": " + std::string(item) +
                                                ": arrays nested deeper than " +
                                                std::to_string(detail::kMaxArrayDepth) + " levels");
    uint64_t n = c.read_count(item, detail::min_element_bytes(a.element_type), index);
    a.items.reserve(n);
    for (uint64_t i = 0; i < n; ++i)
        a.items.push_back(read_value(c, a.element_type, item, i, depth + 1));
    return a;
}

Value read_value(Cursor& c, ValueType type, std::string_view item, uint64_t index, int depth) {
    Value v;
    v.type = type;
    switch (type) {
        case ValueType::U8:
            v.data = uint64_t{c.read<uint8_t>(item, index)};
            break;
        case ValueType::I8:
            v.data = int64_t{c.read<int8_t>(item, index)};
            break;
        case ValueType::U16:
            v.data = uint64_t{c.read<uint16_t>(item, index)};
            break;
        case ValueType::I16:
            v.data = int64_t{c.read<int16_t>(item, index)};
            break;
        case ValueType::U32:
            v.data = uint64_t{c.read<uint32_t>(item, index)};
            break;
        case ValueType::I32:
            v.data = int64_t{c.read<int32_t>(item, index)};
            break;
        case ValueType::U64:
            v.data = uint64_t{c.read<uint64_t>(item, index)};
            break;
        case ValueType::I64:
            v.data = int64_t{c.read<int64_t>(item, index)};
            break;
        case ValueType::F32:
            v.data = double{c.read<float>(item, index)};
            break;
        case ValueType::F64:
            v.data = c.read<double>(item, index);
            break;
        case ValueType::Bool: {
            uint8_t b = c.read<uint8_t>(item, index);
            if (b > 1) c.fail(item, index, "bool byte " + std::to_string(b) + " (must be 0 or 1)");
            v.data = b == 1;
            break;
        }
        case ValueType::String:
            v.data = c.read_string(item, index);
            break;
        case ValueType::Array:
            v.data = read_array(c, item, index, depth);
            break;
    }
    return v;
}

std::string quoted(std::string_view label, std::string_view name) {
    return std::string(label) + " " + quote(name);
}

uint64_t read_alignment(Cursor& c, const std::string& item, const Value& v) {
    if (v.type != ValueType::U32)
        c.fail(item, kNoIndex, std::string("type ") + value_type_name(v.type) + " (must be u32)");
    uint64_t a = std::get<uint64_t>(v.data);
    if (!detail::is_power_of_two(a))
        c.fail(item, kNoIndex, std::to_string(a) + " is not a nonzero power of two");
    return a;
}

// Indices of `items` sorted by the names `name_of` gives; equal neighbours are duplicates.
template <class T, class NameOf>
std::vector<size_t> sorted_by_name(const std::vector<T>& items, NameOf name_of) {
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return name_of(items[a]) < name_of(items[b]); });
    return order;
}

template <class T, class NameOf>
const T* find_sorted(const std::vector<T>& items, const std::vector<size_t>& order,
                     std::string_view name, NameOf name_of) {
    auto it = std::lower_bound(order.begin(), order.end(), name,
                               [&](size_t i, std::string_view n) { return name_of(items[i]) < n; });
    if (it == order.end() || name_of(items[*it]) != name) return nullptr;
    return &items[*it];
}

std::string_view key_of(const std::pair<std::string, Value>& kv) {
    return kv.first;
}
std::string_view name_of(const TensorInfo& t) {
    return t.name;
}

// What parsing produces, before it moves into a File.
struct Parsed {
    uint32_t version = 0;
    uint64_t alignment = detail::kDefaultAlignment;
    uint64_t data_offset = 0;
    uint64_t tensor_count = 0;
    std::vector<std::pair<std::string, Value>> metadata;
    std::vector<TensorInfo> tensors;
    std::vector<size_t> metadata_order;
    std::vector<size_t> tensor_order;
};

void parse_header(Cursor& c, Parsed& p) {
    const uint8_t* magic = c.read_bytes(4, "magic");
    if (std::memcmp(magic, detail::kMagic, 4) != 0) {
        char hex[16];
        std::snprintf(hex, sizeof hex, "%02x %02x %02x %02x", magic[0], magic[1], magic[2],
                      magic[3]);
        c.fail("magic", kNoIndex, std::string("bytes ") + hex + " are not \"GGUF\"");
    }
    p.version = c.read<uint32_t>("version");
    if (p.version != 2 && p.version != 3) {
        uint32_t swapped = __builtin_bswap32(p.version);
        c.fail("version", kNoIndex,
               swapped == 2 || swapped == 3
                   ? "big-endian file (only little-endian GGUF is read)"
                   : std::to_string(p.version) + " (only versions 2 and 3 are read)");
    }
    // Both counts come before the metadata. The tensor count is checked again once the metadata
    // is read, but failing here keeps an absurd count from getting that far.
    p.tensor_count = c.read_count("tensor count", detail::kMinTensorInfoBytes);
}

void parse_metadata(Cursor& c, Parsed& p) {
    uint64_t n_kv = c.read_count("metadata count", detail::kMinKeyValueBytes);
    p.metadata.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string key = c.read_string("metadata key #" + std::to_string(i));
        std::string item = quoted("metadata key", key);
        ValueType type = read_value_type(c, item, kNoIndex);
        Value v = read_value(c, type, item, kNoIndex, 0);
        if (key == detail::kAlignmentKey) p.alignment = read_alignment(c, item, v);
        p.metadata.emplace_back(std::move(key), std::move(v));
    }
    p.metadata_order = sorted_by_name(p.metadata, key_of);
    for (size_t i = 1; i < p.metadata_order.size(); ++i) {
        const std::string& key = p.metadata[p.metadata_order[i]].first;
        if (key == p.metadata[p.metadata_order[i - 1]].first)
            throw Error(ErrorCode::BadFile, c.file() + ": duplicate metadata key " + quote(key));
    }
}

TensorInfo read_tensor_info(Cursor& c, uint64_t i, uint64_t alignment) {
    const uint64_t start = c.pos();
    TensorInfo t;
    t.name = c.read_string("tensor #" + std::to_string(i) + " name");
    std::string item = quoted("tensor", t.name);
    uint32_t n_dims = c.read<uint32_t>(item + " n_dims");
    if (n_dims < 1 || n_dims > detail::kMaxDims)
        c.fail(item, kNoIndex, "n_dims " + std::to_string(n_dims) + " (must be 1 to 4)");
    t.dims.resize(n_dims);
    for (uint64_t& d : t.dims) d = c.read<uint64_t>(item + " dims");
    uint32_t type_id = c.read<uint32_t>(item + " type");
    t.offset = c.read<uint64_t>(item + " offset");
    detail::TensorSize size = detail::tensor_size(t.dims, type_id);
    if (!size.error.empty()) c.fail_at(start, item, kNoIndex, size.error);
    t.type = static_cast<quant::GgmlType>(type_id);
    t.bytes = size.bytes;
    if (t.offset % alignment != 0)
        c.fail_at(start, item, kNoIndex,
                  "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                      std::to_string(alignment));
    return t;
}

void parse_tensor_infos(Cursor& c, Parsed& p) {
    if (p.tensor_count > c.left() / detail::kMinTensorInfoBytes)
        c.fail_at(kTensorCountAt, "tensor count", kNoIndex,
                  std::to_string(p.tensor_count) + " tensor infos cannot fit in the " +
                      std::to_string(c.left()) + " bytes left after the metadata");
    p.tensors.reserve(p.tensor_count);
    for (uint64_t i = 0; i < p.tensor_count; ++i)
        p.tensors.push_back(read_tensor_info(c, i, p.alignment));
    p.tensor_order = sorted_by_name(p.tensors, name_of);
    for (size_t i = 1; i < p.tensor_order.size(); ++i) {
        const std::string& name = p.tensors[p.tensor_order[i]].name;
        if (name == p.tensors[p.tensor_order[i - 1]].name)
            throw Error(ErrorCode::BadFile, c.file() + ": duplicate tensor name " + quote(name));
    }
}

// Turns offsets relative to the data section into file offsets and spans, checking that every
// tensor lies inside the file and that no two share a byte.
void place_tensors(Cursor& c, std::span<const uint8_t> bytes, Parsed& p) {
    const std::string& file = c.file();
    const uint64_t size = bytes.size();
    // The infos end inside the file and the alignment is a u32: this cannot overflow.
    p.data_offset = *detail::align_up(c.pos(), p.alignment);
    // Files without tensors (vocabularies) often end right after the infos with no padding; the
    // data section is then empty and starts at the end of the file.
    if (p.tensors.empty()) p.data_offset = std::min(p.data_offset, size);

    for (TensorInfo& t : p.tensors) {
        std::optional<uint64_t> start = checked_add(p.data_offset, t.offset);
        std::optional<uint64_t> end = start ? checked_add(*start, t.bytes) : std::nullopt;
        if (!end || *end > size)
            throw Error(ErrorCode::BadFile,
                        file + ": tensor " + quote(t.name) + ": " + std::to_string(t.bytes) +
                            " bytes at data offset " + std::to_string(t.offset) +
                            " (data section at byte " + std::to_string(p.data_offset) +
                            ") run past the end of the file (" + std::to_string(size) + " bytes)");
        t.offset = *start;
        t.data = bytes.subspan(*start, t.bytes);
    }

    std::vector<size_t> by_start(p.tensors.size());
    for (size_t i = 0; i < by_start.size(); ++i) by_start[i] = i;
    std::sort(by_start.begin(), by_start.end(),
              [&](size_t a, size_t b) { return p.tensors[a].offset < p.tensors[b].offset; });
    for (size_t i = 1; i < by_start.size(); ++i) {
        const TensorInfo& prev = p.tensors[by_start[i - 1]];
        const TensorInfo& next = p.tensors[by_start[i]];
        if (prev.offset + prev.bytes > next.offset)
            throw Error(ErrorCode::BadFile, file + ": tensor " + quote(next.name) + " (from byte " +
                                                std::to_string(next.offset) + ") overlaps tensor " +
                                                quote(prev.name) + " (bytes " +
                                                std::to_string(prev.offset) + " to " +
                                                std::to_string(prev.offset + prev.bytes) + ")");
    }
}

}  // namespace

File File::parse(std::span<const uint8_t> bytes, const std::string& name) {
    Cursor c(bytes, name);
    Parsed p;
    parse_header(c, p);
    parse_metadata(c, p);
    try {
        parse_tensor_infos(c, p);
        place_tensors(c, bytes, p);
    } catch (const Error& e) {
        // A metadata count of 0 in front of metadata makes the first key read as a tensor name
        // ("tensor 'general.architecture': n_dims 8"); say what is missing instead.
        if (!p.metadata.empty()) throw;
        std::string why = e.what();
        if (why.starts_with(name + ": ")) why.erase(0, name.size() + 2);
        throw Error(ErrorCode::BadFile,
                    name + ": metadata key 'general.architecture' is missing: the header's " +
                        "metadata count is 0, and what follows does not read as tensor infos (" +
                        why + ")");
    }

    File f;
    f.path_ = name;
    f.bytes_ = bytes;
    f.version_ = p.version;
    f.alignment_ = p.alignment;
    f.data_offset_ = p.data_offset;
    f.metadata_ = std::move(p.metadata);
    f.tensors_ = std::move(p.tensors);
    f.metadata_order_ = std::move(p.metadata_order);
    f.tensor_order_ = std::move(p.tensor_order);
    return f;
}

File File::open(const std::string& path) {
    auto fail = [&](const std::string& why) -> void {
        throw Error(ErrorCode::BadFile, path + ": " + why);
    };
    // A FIFO blocks in open() until a writer comes, a device may too: look before opening, and
    // open without blocking so that a path swapped for one in between cannot hang either; the
    // fstat below then refuses it.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) fail("cannot open: " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) fail("not a regular file");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail("cannot open: " + errno_text(errno));
    if (fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        fail("cannot stat: " + errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail("not a regular file");
    }
    if (st.st_size == 0) {
        ::close(fd);
        fail("empty file");
    }
    auto mapping = std::make_unique<Mapping>();
    mapping->fd = fd;  // kept for read(), closed with the mapping
    mapping->size = static_cast<size_t>(st.st_size);
    void* address = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) fail("cannot map: " + errno_text(errno));
    mapping->address = address;

    File f = parse({static_cast<const uint8_t*>(address), mapping->size}, path);
    f.mapping_ = std::move(mapping);
    return f;
}

void File::read(std::span<const uint8_t> range, void* dst) const {
    const uint8_t* base = bytes_.data();
    if (range.data() < base || range.data() + range.size() > base + bytes_.size())
        throw Error(ErrorCode::InvalidArgument,
                    path_ + ": read of a range outside the file's bytes");
    const uint64_t offset = static_cast<uint64_t>(range.data() - base);
    if (!mapping_ || mapping_->fd < 0) {
        std::memcpy(dst, range.data(), range.size());
        return;
    }
    uint8_t* out = static_cast<uint8_t*>(dst);
    for (size_t done = 0; done < range.size();) {
        ssize_t n = ::pread(mapping_->fd, out + done, range.size() - done,
                            static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            std::string why = n < 0 ? errno_text(errno) : "the file ends there";
            struct stat st {};
            if (n == 0 && fstat(mapping_->fd, &st) == 0)
                why = "the file is " + std::to_string(st.st_size) + " bytes now, " +
                      std::to_string(bytes_.size()) +
                      " when it was opened (truncated while in use?)";
            throw Error(ErrorCode::BadFile, path_ + ": cannot read bytes " +
                                                std::to_string(offset + done) + " to " +
                                                std::to_string(offset + range.size()) + ": " + why);
        }
        done += static_cast<size_t>(n);
    }
}

const Value* File::find(std::string_view key) const {
    const auto* kv = find_sorted(metadata_, metadata_order_, key, key_of);
    return kv ? &kv->second : nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    return find_sorted(tensors_, tensor_order_, name, name_of);
}

// --- typed getters ---------------------------------------------------------------------------

namespace {

[[noreturn]] void wrong_type(const std::string& path, std::string_view key, const Value& v,
                             const char* wanted) {
    throw Error(ErrorCode::BadFile, path + ": metadata key " + quote(key) + " is " +
                                        value_type_name(v.type) + ", not " + wanted);
}

[[noreturn]] void out_of_range(const std::string& path, std::string_view key,
                               const std::string& value, const char* wanted) {
    throw Error(ErrorCode::BadFile, path + ": metadata key " + quote(key) + " value " + value +
                                        " does not fit " + wanted);
}

std::string value_text(const Value& v) {
    if (const auto* u = std::get_if<uint64_t>(&v.data)) return std::to_string(*u);
    if (const auto* i = std::get_if<int64_t>(&v.data)) return std::to_string(*i);
    return value_type_name(v.type);
}

// Scalar conversions shared by the single-value and the array getters; nullopt when the type
// does not convert at all, an Error when it does but the value does not fit.
std::optional<uint64_t> as_uint(const std::string& path, std::string_view key, const Value& v) {
    if (detail::is_unsigned(v.type)) return std::get<uint64_t>(v.data);
    if (detail::is_signed(v.type)) {
        int64_t i = std::get<int64_t>(v.data);
        if (i < 0) out_of_range(path, key, value_text(v), "an unsigned integer");
        return static_cast<uint64_t>(i);
    }
    return std::nullopt;
}

std::optional<int64_t> as_int(const std::string& path, std::string_view key, const Value& v) {
    if (detail::is_signed(v.type)) return std::get<int64_t>(v.data);
    if (detail::is_unsigned(v.type)) {
        uint64_t u = std::get<uint64_t>(v.data);
        if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            out_of_range(path, key, value_text(v), "a signed 64-bit integer");
        return static_cast<int64_t>(u);
    }
    return std::nullopt;
}

std::optional<double> as_float(const Value& v) {
    if (detail::is_float(v.type)) return std::get<double>(v.data);
    if (detail::is_unsigned(v.type)) return static_cast<double>(std::get<uint64_t>(v.data));
    if (detail::is_signed(v.type)) return static_cast<double>(std::get<int64_t>(v.data));
    return std::nullopt;
}

const Array& as_array(const std::string& path, std::string_view key, const Value& v,
                      const char* wanted) {
    if (v.type != ValueType::Array) wrong_type(path, key, v, wanted);
    return std::get<Array>(v.data);
}

[[noreturn]] void wrong_elements(const std::string& path, std::string_view key, const Array& a,
                                 const char* wanted) {
    throw Error(ErrorCode::BadFile, path + ": metadata key " + quote(key) + " is an array of " +
                                        value_type_name(a.element_type) + ", not " + wanted);
}

}  // namespace

std::optional<uint64_t> File::get_uint(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    std::optional<uint64_t> r = as_uint(path_, key, *v);
    if (!r) wrong_type(path_, key, *v, "an integer");
    return r;
}

std::optional<int64_t> File::get_int(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    std::optional<int64_t> r = as_int(path_, key, *v);
    if (!r) wrong_type(path_, key, *v, "an integer");
    return r;
}

std::optional<double> File::get_float(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    std::optional<double> r = as_float(*v);
    if (!r) wrong_type(path_, key, *v, "a number");
    return r;
}

std::optional<bool> File::get_bool(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::Bool) wrong_type(path_, key, *v, "a bool");
    return std::get<bool>(v->data);
}

std::optional<std::string> File::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::String) wrong_type(path_, key, *v, "a string");
    return std::get<std::string>(v->data);
}

std::optional<std::vector<std::string>> File::get_strings(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    const Array& a = as_array(path_, key, *v, "an array of strings");
    if (a.element_type != ValueType::String) wrong_elements(path_, key, a, "strings");
    std::vector<std::string> out;
    out.reserve(a.items.size());
    for (const Value& item : a.items) out.push_back(std::get<std::string>(item.data));
    return out;
}

std::optional<std::vector<double>> File::get_floats(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    const Array& a = as_array(path_, key, *v, "an array of numbers");
    std::vector<double> out;
    out.reserve(a.items.size());
    for (const Value& item : a.items) {
        std::optional<double> d = as_float(item);
        if (!d) wrong_elements(path_, key, a, "numbers");
        out.push_back(*d);
    }
    return out;
}

std::optional<std::vector<int64_t>> File::get_ints(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    const Array& a = as_array(path_, key, *v, "an array of integers");
    std::vector<int64_t> out;
    out.reserve(a.items.size());
    for (const Value& item : a.items) {
        std::optional<int64_t> i = as_int(path_, key, item);
        if (!i) wrong_elements(path_, key, a, "integers");
        out.push_back(*i);
    }
    return out;
}

uint64_t File::require_uint(std::string_view key) const {
    std::optional<uint64_t> v = get_uint(key);
    if (!v) throw Error(ErrorCode::BadFile, path_ + ": metadata key " + quote(key) + " is missing");
    return *v;
}

std::string File::require_string(std::string_view key) const {
    std::optional<std::string> v = get_string(key);
    if (!v) throw Error(ErrorCode::BadFile, path_ + ": metadata key " + quote(key) + " is missing");
    return *v;
}

}  // namespace moevk::gguf
