// The GGUF reader and writer, no GPU: round trips of every value type and of tensor data, the
// real fixture files, and files corrupted on purpose (each must fail with BadFile naming the file
// and the item), down to every truncation of a small file and random byte flips.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <random>

#include "gguf/gguf.h"
#include "gpu/error.h"
#include "test_support.h"

namespace moevk::gguf {
namespace {

namespace fs = std::filesystem;
using quant::GgmlType;
using test::expect_error;

constexpr const char* kName = "corrupt.gguf";  // stands in for the path in parse() errors

// --- helpers ---------------------------------------------------------------------------------

std::string temp_path(const std::string& name) {
    return (fs::path(::testing::TempDir()) / ("moevk_test_gguf_" + name)).string();
}

// Parsing `bytes` fails with BadFile naming the file (kName) and each of `parts`.
void expect_bad(const std::vector<uint8_t>& bytes, std::vector<std::string> parts) {
    parts.insert(parts.begin(), kName);
    expect_error([&] { File::parse(bytes, kName); }, ErrorCode::BadFile, parts);
}

// Offset just past the first occurrence of `text` in `bytes` (a key or tensor name, so the field
// after it can be edited).
size_t after(const std::vector<uint8_t>& bytes, std::string_view text) {
    auto it = std::search(bytes.begin(), bytes.end(), text.begin(), text.end());
    EXPECT_NE(it, bytes.end()) << "'" << text << "' not in the file";
    return static_cast<size_t>(it - bytes.begin()) + text.size();
}

template <class T>
void poke(std::vector<uint8_t>& bytes, size_t at, T v) {
    ASSERT_LE(at + sizeof(T), bytes.size());
    std::memcpy(bytes.data() + at, &v, sizeof(T));
}
template <class T>
T peek(const std::vector<uint8_t>& bytes, size_t at) {
    T v{};
    std::memcpy(&v, bytes.data() + at, sizeof(T));
    return v;
}

// Field offsets in a tensor info, from the end of its name.
size_t n_dims_at(const std::vector<uint8_t>& b, std::string_view name) {
    return after(b, name);
}
size_t dim_at(const std::vector<uint8_t>& b, std::string_view name, int i) {
    return after(b, name) + 4 + 8 * i;
}
size_t type_at(const std::vector<uint8_t>& b, std::string_view name) {
    return after(b, name) + 4 + 8 * peek<uint32_t>(b, after(b, name));
}
size_t offset_at(const std::vector<uint8_t>& b, std::string_view name) {
    return type_at(b, name) + 4;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
    return v;
}

// A small valid file: a few keys of different types and two tensors, the second ending the file.
Writer small_writer() {
    Writer w;
    w.set_string("general.architecture", "llama");
    w.set_string("general.name", "tiny");
    w.set_uint32("llama.block_count", 3);
    w.set_strings("tokenizer.ggml.tokens", {"<s>", "</s>", "a", "b"});
    w.set_float32s("tokenizer.ggml.scores", {0.0f, -1.0f, -2.5f, 3.0f});
    w.add_tensor("tensor.a", {8, 2}, GgmlType::F32, random_bytes(8 * 2 * 4, 1));
    w.add_tensor("tensor.b", {32, 3}, GgmlType::Q8_0, random_bytes(3 * 34, 2));
    return w;
}

bool same_value(const Value& a, const Value& b) {
    if (a.type != b.type || a.data.index() != b.data.index()) return false;
    if (const auto* d = std::get_if<double>(&a.data))
        return std::bit_cast<uint64_t>(*d) == std::bit_cast<uint64_t>(std::get<double>(b.data));
    if (const auto* x = std::get_if<Array>(&a.data)) {
        const Array& y = std::get<Array>(b.data);
        if (x->element_type != y.element_type || x->items.size() != y.items.size()) return false;
        for (size_t i = 0; i < x->items.size(); ++i)
            if (!same_value(x->items[i], y.items[i])) return false;
        return true;
    }
    if (const auto* u = std::get_if<uint64_t>(&a.data)) return *u == std::get<uint64_t>(b.data);
    if (const auto* i = std::get_if<int64_t>(&a.data)) return *i == std::get<int64_t>(b.data);
    if (const auto* x = std::get_if<bool>(&a.data)) return *x == std::get<bool>(b.data);
    return std::get<std::string>(a.data) == std::get<std::string>(b.data);
}

Value uval(ValueType t, uint64_t v) {
    return Value{t, v};
}
Value ival(ValueType t, int64_t v) {
    return Value{t, v};
}
Value arr(ValueType t, std::vector<Value> items) {
    return Value{ValueType::Array, Array{t, std::move(items)}};
}

// One key of every type, with extreme values, and arrays of every element type.
std::vector<std::pair<std::string, Value>> every_value_type() {
    using VT = ValueType;
    std::vector<std::pair<std::string, Value>> kv = {
        {"u8", uval(VT::U8, 255)},
        {"i8", ival(VT::I8, -128)},
        {"u16", uval(VT::U16, 65535)},
        {"i16", ival(VT::I16, -32768)},
        {"u32", uval(VT::U32, 4294967295u)},
        {"i32", ival(VT::I32, std::numeric_limits<int32_t>::min())},
        {"u64", uval(VT::U64, std::numeric_limits<uint64_t>::max())},
        {"i64", ival(VT::I64, std::numeric_limits<int64_t>::min())},
        {"f32", Value{VT::F32, -1.5e-30}},  // rounded to float below
        {"f64", Value{VT::F64, 0.1}},
        {"bool.true", Value{VT::Bool, true}},
        {"bool.false", Value{VT::Bool, false}},
        {"string", Value{VT::String, std::string("h\xC3\xA9llo, \xE4\xB8\x96\xE7\x95\x8C")}},
        {"string.empty", Value{VT::String, std::string()}},
        {"string.nul", Value{VT::String, std::string("a\0b", 3)}},
        {"array.empty", arr(VT::U32, {})},
        {"array.u8", arr(VT::U8, {uval(VT::U8, 0), uval(VT::U8, 200)})},
        {"array.i8", arr(VT::I8, {ival(VT::I8, -1), ival(VT::I8, 127)})},
        {"array.u16", arr(VT::U16, {uval(VT::U16, 1), uval(VT::U16, 40000)})},
        {"array.i16", arr(VT::I16, {ival(VT::I16, -300)})},
        {"array.u32", arr(VT::U32, {uval(VT::U32, 7), uval(VT::U32, 3000000000u)})},
        {"array.i32", arr(VT::I32, {ival(VT::I32, -7), ival(VT::I32, 2000000000)})},
        {"array.u64", arr(VT::U64, {uval(VT::U64, 1ull << 63)})},
        {"array.i64", arr(VT::I64, {ival(VT::I64, -(1ll << 62))})},
        {"array.f32", arr(VT::F32, {Value{VT::F32, 0.5}, Value{VT::F32, -2.0}})},
        {"array.f64", arr(VT::F64, {Value{VT::F64, 1e300}})},
        {"array.bool", arr(VT::Bool, {Value{VT::Bool, true}, Value{VT::Bool, false}})},
        {"array.string",
         arr(VT::String, {Value{VT::String, std::string("x")}, Value{VT::String, std::string()}})},
        {"array.nested", arr(VT::Array, {arr(VT::I32, {ival(VT::I32, 1), ival(VT::I32, 2)}),
                                         arr(VT::I32, {}), arr(VT::I32, {ival(VT::I32, 3)})})},
        {"array.nested.strings",
         arr(VT::Array, {arr(VT::String, {Value{VT::String, std::string("deep")}})})},
    };
    std::get<double>(kv[8].second.data) = static_cast<double>(static_cast<float>(-1.5e-30));
    return kv;
}

void expect_same_metadata(const File& f, const std::vector<std::pair<std::string, Value>>& want) {
    ASSERT_EQ(f.metadata().size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(f.metadata()[i].first, want[i].first) << "metadata keeps file order";
        EXPECT_TRUE(same_value(f.metadata()[i].second, want[i].second)) << want[i].first;
        const Value* found = f.find(want[i].first);
        ASSERT_NE(found, nullptr) << want[i].first;
        EXPECT_TRUE(same_value(*found, want[i].second)) << want[i].first;
    }
}

// --- round trips -----------------------------------------------------------------------------

TEST(GgufRoundTrip, EveryValueTypeInMemory) {
    Writer w;
    auto kv = every_value_type();
    for (const auto& [k, v] : kv) w.set(k, v);
    std::vector<uint8_t> bytes = w.bytes();
    File f = File::parse(bytes, "mem");
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.data_offset() % 32, 0u);
    EXPECT_TRUE(f.tensors().empty());
    expect_same_metadata(f, kv);
    EXPECT_EQ(f.find("absent"), nullptr);
}

TEST(GgufRoundTrip, EveryValueTypeThroughAFile) {
    Writer w;
    auto kv = every_value_type();
    for (const auto& [k, v] : kv) w.set(k, v);
    std::string path = temp_path("values.gguf");
    w.write(path);
    File f = File::open(path);
    EXPECT_EQ(f.path(), path);
    EXPECT_EQ(f.bytes().size(), w.bytes().size());
    expect_same_metadata(f, kv);
    fs::remove(path);
}

TEST(GgufRoundTrip, SetReplacesAKeyInPlace) {
    Writer w;
    w.set_uint32("a", 1);
    w.set_string("b", "x");
    w.set_int32("a", -5);
    std::vector<uint8_t> bytes = w.bytes();
    File f = File::parse(bytes, "mem");
    ASSERT_EQ(f.metadata().size(), 2u);
    EXPECT_EQ(f.metadata()[0].first, "a");
    EXPECT_EQ(f.get_int("a"), -5);
}

TEST(GgufRoundTrip, TypedGetters) {
    Writer w;
    w.set_uint32("u32", 42);
    w.set_uint64("u64.big", std::numeric_limits<uint64_t>::max());
    w.set_int32("i32.neg", -3);
    w.set_int32("i32.pos", 9);
    w.set_float32("f32", 0.25f);
    w.set_bool("bool", true);
    w.set_string("str", "text");
    w.set_strings("strs", {"a", "", "c"});
    w.set_float32s("floats", {1.0f, -0.5f});
    w.set_int32s("ints", {-1, 0, 7});
    w.set("u8s", arr(ValueType::U8, {uval(ValueType::U8, 3)}));
    std::vector<uint8_t> bytes = w.bytes();
    File f = File::parse(bytes, "mem");

    EXPECT_EQ(f.get_uint("u32"), 42u);
    EXPECT_EQ(f.get_uint("i32.pos"), 9u);
    EXPECT_EQ(f.get_uint("u64.big"), std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(f.get_int("u32"), 42);
    EXPECT_EQ(f.get_int("i32.neg"), -3);
    EXPECT_EQ(f.get_float("f32"), 0.25);
    EXPECT_EQ(f.get_float("u32"), 42.0);
    EXPECT_EQ(f.get_float("i32.neg"), -3.0);
    EXPECT_EQ(f.get_bool("bool"), true);
    EXPECT_EQ(f.get_string("str"), "text");
    EXPECT_EQ(f.get_strings("strs"), (std::vector<std::string>{"a", "", "c"}));
    EXPECT_EQ(f.get_floats("floats"), (std::vector<double>{1.0, -0.5}));
    EXPECT_EQ(f.get_floats("ints"), (std::vector<double>{-1.0, 0.0, 7.0}));
    EXPECT_EQ(f.get_ints("ints"), (std::vector<int64_t>{-1, 0, 7}));
    EXPECT_EQ(f.get_ints("u8s"), (std::vector<int64_t>{3}));
    EXPECT_EQ(f.require_uint("u32"), 42u);
    EXPECT_EQ(f.require_string("str"), "text");

    for (auto key : {"absent", "u3", "u32x"}) {
        EXPECT_FALSE(f.get_uint(key).has_value()) << key;
        EXPECT_FALSE(f.get_string(key).has_value()) << key;
        EXPECT_FALSE(f.get_strings(key).has_value()) << key;
    }
    expect_error([&] { f.require_uint("absent"); }, ErrorCode::BadFile,
                 {"mem", "'absent'", "missing"});
    expect_error([&] { f.require_string("absent"); }, ErrorCode::BadFile,
                 {"mem", "'absent'", "missing"});
}

TEST(GgufRoundTrip, GetterTypeMismatchesNameFileAndKey) {
    Writer w;
    w.set_uint32("u32", 42);
    w.set_int32("i32.neg", -3);
    w.set_uint64("u64.big", std::numeric_limits<uint64_t>::max());
    w.set_float32("f32", 1.0f);
    w.set_string("str", "text");
    w.set_float32s("floats", {1.0f});
    w.set_int32s("ints", {-1});
    w.set_strings("strs", {"a"});
    std::vector<uint8_t> bytes = w.bytes();
    File f = File::parse(bytes, "typed.gguf");
    auto bad = [&](std::function<void()> call, const std::vector<std::string>& parts) {
        expect_error(call, ErrorCode::BadFile, parts);
    };
    bad([&] { f.get_string("u32"); }, {"typed.gguf", "'u32'", "u32", "string"});
    bad([&] { f.require_string("u32"); }, {"typed.gguf", "'u32'"});
    bad([&] { f.get_uint("str"); }, {"typed.gguf", "'str'", "integer"});
    bad([&] { f.get_uint("f32"); }, {"typed.gguf", "'f32'"});
    bad([&] { f.get_uint("i32.neg"); }, {"typed.gguf", "'i32.neg'", "-3"});
    bad([&] { f.get_int("u64.big"); }, {"typed.gguf", "'u64.big'"});
    bad([&] { f.get_float("str"); }, {"typed.gguf", "'str'"});
    bad([&] { f.get_bool("u32"); }, {"typed.gguf", "'u32'", "bool"});
    bad([&] { f.get_strings("floats"); }, {"typed.gguf", "'floats'", "f32"});
    bad([&] { f.get_strings("str"); }, {"typed.gguf", "'str'"});
    bad([&] { f.get_ints("floats"); }, {"typed.gguf", "'floats'"});
    bad([&] { f.get_floats("strs"); }, {"typed.gguf", "'strs'"});
    bad([&] { f.get_floats("u32"); }, {"typed.gguf", "'u32'"});
}

TEST(GgufRoundTrip, TensorData) {
    struct Case {
        std::string name;
        std::vector<uint64_t> dims;
        GgmlType type;
        size_t bytes;
    };
    std::vector<Case> cases = {
        {"f32.vector", {5}, GgmlType::F32, 20},
        {"f16.matrix", {6, 3}, GgmlType::F16, 36},
        {"q8_0.experts", {64, 2, 3}, GgmlType::Q8_0, 2 * 2 * 3 * 34},
        {"q4_K.4d", {256, 1, 2, 2}, GgmlType::Q4_K, 4 * 144},
        {"i8.one", {1}, GgmlType::I8, 1},
    };
    for (uint64_t alignment : {32u, 1u, 64u, 4096u}) {
        Writer w;
        if (alignment != 32) w.set_alignment(alignment);
        w.set_string("general.architecture", "test");
        std::vector<std::vector<uint8_t>> data;
        for (size_t i = 0; i < cases.size(); ++i) {
            data.push_back(random_bytes(cases[i].bytes, static_cast<uint32_t>(i)));
            w.add_tensor(cases[i].name, cases[i].dims, cases[i].type, data.back());
        }
        std::string path = temp_path("tensors.gguf");
        w.write(path);
        for (bool from_file : {false, true}) {
            std::vector<uint8_t> bytes = w.bytes();
            File f = from_file ? File::open(path) : File::parse(bytes, "mem");
            SCOPED_TRACE("alignment " + std::to_string(alignment) +
                         (from_file ? " file" : " memory"));
            EXPECT_EQ(f.alignment(), alignment);
            EXPECT_EQ(f.data_offset() % alignment, 0u);
            ASSERT_EQ(f.tensors().size(), cases.size());
            for (size_t i = 0; i < cases.size(); ++i) {
                const TensorInfo& t = f.tensors()[i];
                EXPECT_EQ(t.name, cases[i].name);
                EXPECT_EQ(t.dims, cases[i].dims);
                EXPECT_EQ(t.type, cases[i].type);
                EXPECT_EQ(t.bytes, cases[i].bytes);
                EXPECT_EQ((t.offset - f.data_offset()) % alignment, 0u) << t.name;
                EXPECT_EQ(t.data.data(), f.bytes().data() + t.offset)
                    << "a span into the file's bytes";
                EXPECT_TRUE(
                    std::equal(t.data.begin(), t.data.end(), data[i].begin(), data[i].end()))
                    << t.name;
                EXPECT_EQ(f.find_tensor(t.name), &t);
            }
            EXPECT_EQ(f.tensors()[2].elements(), 64u * 2 * 3);
            EXPECT_EQ(f.tensors()[2].rows(), 6u);
            EXPECT_EQ(f.tensors()[0].rows(), 1u);
            EXPECT_EQ(f.find_tensor("f32"), nullptr);
            EXPECT_EQ(f.find_tensor("missing"), nullptr);
            // Tensors in the order added, the last one ending the file.
            EXPECT_EQ(f.tensors().back().offset + f.tensors().back().bytes, f.bytes().size());
        }
        fs::remove(path);
    }
}

TEST(GgufRoundTrip, FileOutlivesMoves) {
    std::string path = temp_path("moved.gguf");
    small_writer().write(path);
    std::vector<File> files;
    files.push_back(File::open(path));
    File moved = std::move(files[0]);
    files.clear();
    std::vector<uint8_t> other_bytes = Writer().bytes();
    File assigned = File::parse(other_bytes, "other");
    assigned = std::move(moved);
    EXPECT_EQ(assigned.require_string("general.architecture"), "llama");
    const TensorInfo* t = assigned.find_tensor("tensor.b");
    ASSERT_NE(t, nullptr);
    uint32_t sum = 0;
    for (uint8_t b : t->data) sum += b;  // still mapped after the moves
    EXPECT_GT(sum, 0u);
    fs::remove(path);
}

TEST(GgufRoundTrip, Version2IsRead) {
    // v3 only added big-endian files, so a v2 file is a v3 file with another version number.
    std::vector<uint8_t> bytes = small_writer().bytes();
    poke<uint32_t>(bytes, 4, 2);
    File f = File::parse(bytes, "v2");
    EXPECT_EQ(f.version(), 2u);
    EXPECT_EQ(f.tensors().size(), 2u);
}

// --- writer rejections -----------------------------------------------------------------------

TEST(GgufWriter, RejectsWhatTheReaderWould) {
    auto invalid = [](std::function<void()> call, const std::vector<std::string>& parts) {
        expect_error(call, ErrorCode::InvalidArgument, parts);
    };
    Writer w;
    invalid(
        [&] {
            w.add_tensor("short", {4, 2}, GgmlType::F32, std::vector<uint8_t>(31));
        },
        {"'short'", "31", "32"});
    invalid([&] { w.add_tensor("rows", {33}, GgmlType::Q8_0, std::vector<uint8_t>(34)); },
            {"'rows'", "33"});
    invalid([&] { w.add_tensor("nodims", {}, GgmlType::F32, {}); }, {"'nodims'", "n_dims 0"});
    invalid(
        [&] {
            w.add_tensor("fivedims", {1, 1, 1, 1, 1}, GgmlType::F32, std::vector<uint8_t>(4));
        },
        {"'fivedims'", "n_dims 5"});
    invalid([&] { w.add_tensor("zero", {4, 0}, GgmlType::F32, {}); }, {"'zero'", "dims[1] is 0"});
    invalid(
        [&] {
            w.add_tensor("huge", {1ull << 40, 1ull << 40}, GgmlType::F32, {});
        },
        {"'huge'", "overflow"});
    invalid([&] { w.add_tensor("type", {4}, static_cast<GgmlType>(99), std::vector<uint8_t>(4)); },
            {"'type'", "99"});
    w.add_tensor("ok", {4}, GgmlType::F32, std::vector<uint8_t>(16));
    invalid([&] { w.add_tensor("ok", {4}, GgmlType::F32, std::vector<uint8_t>(16)); },
            {"'ok'", "twice"});
    invalid([&] { w.set_alignment(0); }, {"alignment 0"});
    invalid([&] { w.set_alignment(48); }, {"alignment 48"});
    invalid([&] { w.set("k", Value{ValueType::U8, uint64_t{256}}); }, {"'k'", "256", "u8"});
    invalid([&] { w.set("k", Value{ValueType::I16, int64_t{-40000}}); }, {"'k'", "i16"});
    invalid([&] { w.set("k", Value{ValueType::U32, std::string("x")}); }, {"'k'", "u32"});
    invalid([&] { w.set("k", Value{ValueType::F32, 1e300}); }, {"'k'", "f32"});
    invalid([&] { w.set("k", arr(ValueType::U8, {ival(ValueType::I8, 1)})); },
            {"'k'", "array of u8"});
    invalid([&] { w.set("k", Value{static_cast<ValueType>(13), uint64_t{0}}); }, {"'k'", "13"});
    invalid([&] { w.set("k", arr(static_cast<ValueType>(14), {})); }, {"'k'", "element type 14"});
    EXPECT_EQ(File::parse(w.bytes(), "w").tensors().size(), 1u)
        << "rejected calls leave the writer as it was";
}

TEST(GgufWriter, WriteFailureNamesThePath) {
    std::string path = temp_path("no/such/dir/out.gguf");
    expect_error([&] { small_writer().write(path); }, ErrorCode::BadFile, {path, "No such file"});
}

// --- fixtures --------------------------------------------------------------------------------

fs::path fixtures() {
    return fs::path(MOEVK_FIXTURES_DIR);
}

std::vector<fs::path> fixture_files(const std::string& folder) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(fixtures() / folder))
        if (entry.path().extension() == ".gguf") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

#define SKIP_WITHOUT_FIXTURES() \
    if (!fs::is_directory(fixtures())) GTEST_SKIP() << "no fixtures at " << fixtures().string()

// What holds for every model file: the tensors tile the data section and each has its data.
void check_model_layout(const File& f) {
    uint64_t end = f.data_offset();
    std::vector<const TensorInfo*> by_offset;
    for (const TensorInfo& t : f.tensors()) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](auto* a, auto* b) { return a->offset < b->offset; });
    for (const TensorInfo* t : by_offset) {
        EXPECT_GE(t->offset, end) << t->name;
        EXPECT_LT(t->offset - end, f.alignment()) << t->name << ": only padding between tensors";
        EXPECT_EQ(t->data.size(), t->bytes);
        end = t->offset + t->bytes;
    }
    EXPECT_EQ(end, f.bytes().size());
}

TEST(GgufFixtures, MixtralTiny) {
    SKIP_WITHOUT_FIXTURES();
    int seen = 0;
    for (const fs::path& path : fixture_files("models")) {
        if (path.filename().string().rfind("mixtral-tiny-", 0) != 0) continue;
        SCOPED_TRACE(path.string());
        File f = File::open(path.string());
        ++seen;
        EXPECT_EQ(f.version(), 3u);
        EXPECT_EQ(f.require_string("general.architecture"), "llama");
        EXPECT_EQ(f.require_uint("llama.expert_count"), 8u);
        EXPECT_EQ(f.require_uint("llama.expert_used_count"), 2u);
        EXPECT_EQ(f.require_uint("llama.block_count"), 3u);
        EXPECT_EQ(f.require_uint("llama.embedding_length"), 256u);
        EXPECT_EQ(f.get_float("llama.rope.freq_base"), 1e6);
        EXPECT_EQ(f.get_bool("tokenizer.ggml.add_bos_token"), true);
        EXPECT_EQ(f.require_string("tokenizer.ggml.model"), "llama");
        auto tokens = f.get_strings("tokenizer.ggml.tokens");
        ASSERT_TRUE(tokens);
        ASSERT_EQ(tokens->size(), 736u);
        EXPECT_EQ((*tokens)[1], "<s>");
        EXPECT_EQ(f.get_floats("tokenizer.ggml.scores")->size(), 736u);
        EXPECT_EQ(f.get_ints("tokenizer.ggml.token_type")->size(), 736u);
        EXPECT_EQ(f.tensors().size(), 33u);
        const TensorInfo* gate = f.find_tensor("blk.0.ffn_gate_exps.weight");
        ASSERT_NE(gate, nullptr);
        EXPECT_EQ(gate->dims, (std::vector<uint64_t>{256, 256, 8}));
        EXPECT_EQ(gate->rows(), 256u * 8);
        const TensorInfo* router = f.find_tensor("blk.2.ffn_gate_inp.weight");
        ASSERT_NE(router, nullptr);
        EXPECT_EQ(router->type, GgmlType::F32) << "routers stay f32";
        EXPECT_EQ(router->dims, (std::vector<uint64_t>{256, 8}));
        std::string name = path.filename().string();
        GgmlType want = name.find("f16") != std::string::npos    ? GgmlType::F16
                        : name.find("q8_0") != std::string::npos ? GgmlType::Q8_0
                                                                 : GgmlType::Q4_K;
        EXPECT_EQ(gate->type, want);
        check_model_layout(f);
    }
    EXPECT_EQ(seen, 3);
}

TEST(GgufFixtures, Qwen3MoeTiny) {
    SKIP_WITHOUT_FIXTURES();
    int seen = 0;
    for (const fs::path& path : fixture_files("models")) {
        if (path.filename().string().rfind("qwen3moe-tiny-", 0) != 0) continue;
        SCOPED_TRACE(path.string());
        File f = File::open(path.string());
        ++seen;
        EXPECT_EQ(f.require_string("general.architecture"), "qwen3moe");
        EXPECT_EQ(f.require_uint("qwen3moe.expert_count"), 16u);
        EXPECT_EQ(f.require_uint("qwen3moe.expert_used_count"), 4u);
        EXPECT_EQ(f.require_uint("qwen3moe.block_count"), 3u);
        EXPECT_EQ(f.require_uint("qwen3moe.expert_feed_forward_length"), 256u);
        EXPECT_EQ(f.require_string("tokenizer.ggml.model"), "gpt2");
        EXPECT_EQ(f.require_string("tokenizer.ggml.pre"), "qwen2");
        EXPECT_EQ(f.get_strings("tokenizer.ggml.tokens")->size(), 759u);
        EXPECT_FALSE(f.get_strings("tokenizer.ggml.merges")->empty());
        EXPECT_EQ(f.tensors().size(), 39u);
        const TensorInfo* gate = f.find_tensor("blk.0.ffn_gate_exps.weight");
        ASSERT_NE(gate, nullptr);
        EXPECT_EQ(gate->dims, (std::vector<uint64_t>{256, 256, 16}));
        const TensorInfo* q_norm = f.find_tensor("blk.1.attn_q_norm.weight");
        ASSERT_NE(q_norm, nullptr);
        EXPECT_EQ(q_norm->dims, (std::vector<uint64_t>{32}));
        check_model_layout(f);
    }
    EXPECT_EQ(seen, 3);
}

TEST(GgufFixtures, Vocabularies) {
    SKIP_WITHOUT_FIXTURES();
    const std::map<std::string, size_t> n_tokens = {
        {"ggml-vocab-deepseek-llm.gguf", 102400},
        {"ggml-vocab-gpt-2.gguf", 50257},
        {"ggml-vocab-llama-spm.gguf", 32000},
        {"ggml-vocab-phi-3.gguf", 32064},
    };
    int seen = 0;
    for (const fs::path& path : fixture_files("vocab")) {
        SCOPED_TRACE(path.string());
        File f = File::open(path.string());
        ++seen;
        EXPECT_TRUE(f.tensors().empty());
        // These files stop right after the metadata, without padding to the alignment.
        EXPECT_EQ(f.data_offset(), f.bytes().size());
        auto tokens = f.get_strings("tokenizer.ggml.tokens");
        ASSERT_TRUE(tokens);
        auto it = n_tokens.find(path.filename().string());
        if (it != n_tokens.end()) {
            EXPECT_EQ(tokens->size(), it->second);
        }
        auto types = f.get_ints("tokenizer.ggml.token_type");
        ASSERT_TRUE(types);
        EXPECT_EQ(types->size(), tokens->size());
        if (auto scores = f.get_floats("tokenizer.ggml.scores")) {
            EXPECT_EQ(scores->size(), tokens->size());
        }
        if (auto merges = f.get_strings("tokenizer.ggml.merges")) {
            EXPECT_FALSE(merges->empty());
        }
        EXPECT_LT(f.require_uint("tokenizer.ggml.bos_token_id"), tokens->size());
    }
    EXPECT_EQ(seen, 4);
}

// Cuts of a real file anywhere in its header, metadata, infos or data must all fail cleanly.
TEST(GgufFixtures, TruncatedModelFails) {
    SKIP_WITHOUT_FIXTURES();
    File whole = File::open((fixtures() / "models" / "mixtral-tiny-q4_k_m.gguf").string());
    std::span<const uint8_t> bytes = whole.bytes();
    std::vector<uint64_t> cuts;
    for (uint64_t n = 0; n < whole.data_offset() + 64; n += 37) cuts.push_back(n);
    for (uint64_t back : {1, 2, 31, 4096}) cuts.push_back(bytes.size() - back);
    for (uint64_t n : cuts) {
        try {
            File::parse(bytes.first(n), "cut.gguf");
            ADD_FAILURE() << "a prefix of " << n << " bytes parsed";
        } catch (const Error& e) {
            ASSERT_EQ(static_cast<int>(e.code()), static_cast<int>(ErrorCode::BadFile)) << e.what();
            ASSERT_NE(std::string(e.what()).find("cut.gguf"), std::string::npos) << e.what();
        }
    }
}

// --- corrupt files ---------------------------------------------------------------------------

TEST(GgufCorrupt, EveryTruncationFails) {
    std::vector<uint8_t> whole = small_writer().bytes();
    ASSERT_NO_THROW(File::parse(whole, kName));
    for (size_t n = 0; n < whole.size(); ++n) {
        std::vector<uint8_t> cut(whole.begin(), whole.begin() + static_cast<long>(n));
        try {
            File::parse(cut, kName);
            ADD_FAILURE() << "a prefix of " << n << " bytes parsed";
        } catch (const Error& e) {
            ASSERT_EQ(static_cast<int>(e.code()), static_cast<int>(ErrorCode::BadFile)) << e.what();
            ASSERT_NE(std::string(e.what()).find(kName), std::string::npos) << e.what();
        }
    }
    expect_bad(std::vector<uint8_t>(whole.begin(), whole.begin() + 10),
               {"tensor count", "truncated"});
    expect_bad(std::vector<uint8_t>(whole.begin(), whole.end() - 1),
               {"tensor 'tensor.b'", "end of the file"});
}

TEST(GgufCorrupt, Header) {
    std::vector<uint8_t> good = small_writer().bytes();
    auto bad = good;
    bad[0] = 'X';
    expect_bad(bad, {"magic", "58 47 55 46"});
    for (uint32_t version : {0u, 1u, 4u, 0xFFFFFFFFu}) {
        bad = good;
        poke<uint32_t>(bad, 4, version);
        expect_bad(bad, {"version", std::to_string(version)});
    }
    bad = good;
    poke<uint32_t>(bad, 4, 0x03000000u);
    expect_bad(bad, {"version", "big-endian"});
    bad = good;
    poke<uint64_t>(bad, 8, 1ull << 60);
    expect_bad(bad, {"tensor count", std::to_string(1ull << 60)});
    bad = good;
    // A count the whole file could hold, but not what follows the metadata.
    uint64_t count = (good.size() - 24) / 32;
    poke<uint64_t>(bad, 8, count);
    expect_bad(bad, {"tensor count", std::to_string(count), "after the metadata"});
    bad = good;
    poke<uint64_t>(bad, 16, std::numeric_limits<uint64_t>::max());
    expect_bad(bad, {"metadata count"});
    bad = good;
    poke<uint64_t>(bad, 16, peek<uint64_t>(good, 16) + 1);  // reads tensor infos as metadata
    expect_bad(bad, {});
    expect_bad({}, {"magic", "truncated"});
}

TEST(GgufCorrupt, Metadata) {
    std::vector<uint8_t> good = small_writer().bytes();
    // Value of general.name: u32 type, then the string's u64 length.
    auto bad = good;
    poke<uint64_t>(bad, after(good, "general.name") + 4, 1ull << 62);
    expect_bad(bad, {"metadata key 'general.name'", "string length"});
    // The key's own length.
    bad = good;
    poke<uint64_t>(bad, after(good, "general.name") - 12 - 8, 1ull << 50);
    expect_bad(bad, {"metadata key #", "string length"});
    // The token array: u32 type 9, u32 element type, u64 length.
    bad = good;
    poke<uint64_t>(bad, after(good, "tokenizer.ggml.tokens") + 8, 1ull << 61);
    expect_bad(bad, {"metadata key 'tokenizer.ggml.tokens'", std::to_string(1ull << 61)});
    bad = good;
    poke<uint32_t>(bad, after(good, "tokenizer.ggml.tokens") + 4, 13);
    expect_bad(bad, {"metadata key 'tokenizer.ggml.tokens'", "unknown value type 13"});
    bad = good;
    poke<uint32_t>(bad, after(good, "llama.block_count"), 99);
    expect_bad(bad, {"metadata key 'llama.block_count'", "unknown value type 99"});
    // An element inside the array: the third token's length.
    bad = good;
    size_t third = after(good, "</s>");
    poke<uint64_t>(bad, third, 1ull << 40);
    expect_bad(bad, {"metadata key 'tokenizer.ggml.tokens' element 2", "string length"});
}

TEST(GgufCorrupt, DuplicateKeyAndBadBool) {
    Writer w;
    w.set_uint32("key.a", 1);
    w.set_bool("key.b", true);
    std::vector<uint8_t> good = w.bytes();
    auto bad = good;
    bad[after(good, "key.b") - 1] = 'a';
    expect_bad(bad, {"duplicate metadata key 'key.a'"});
    bad = good;
    bad[after(good, "key.b") + 4] = 2;
    expect_bad(bad, {"metadata key 'key.b'", "bool byte 2"});
}

// Names come from the file: a NUL would cut what() short before the reason, and escape
// sequences would reach the terminal. Messages quote them with \xNN, valid UTF-8 kept.
TEST(GgufCorrupt, NamesInMessagesAreEscaped) {
    auto expect_printable = [](const std::vector<uint8_t>& bytes, const std::vector<std::string>& parts) {
        expect_bad(bytes, parts);
        try {
            File::parse(bytes, kName);
        } catch (const Error& e) {
            for (const char* p = e.what(); *p; ++p)
                EXPECT_FALSE(static_cast<unsigned char>(*p) < 0x20 || *p == 0x7f) << "raw control byte in " << e.what();
        }
    };
    const std::string key("key.\0nul\x1b[2J\xc2\x9b\xff", 15);
    Writer w;
    w.set_bool(key, true);
    std::vector<uint8_t> bytes = w.bytes();
    // after() compares chars with bytes, so find the fields from the header's 24 bytes instead.
    const size_t name_end = 24 + 8 + key.size();
    bytes[name_end + 4] = 2;
    expect_printable(bytes, {"metadata key 'key.\\x00nul\\x1b[2J\\xc2\\x9b\\xff'", "bool byte 2"});

    const std::string tensor("t\0\x07\xc3\xa9\\'", 7);  // NUL, BEL, é, backslash, quote
    Writer t;
    t.add_tensor(tensor, {4}, GgmlType::F32, random_bytes(16, 3));
    bytes = t.bytes();
    poke<uint32_t>(bytes, 24 + 8 + tensor.size(), 9);
    expect_printable(bytes, {"tensor 't\\x00\\x07\xc3\xa9\\x5c\\x27'", "n_dims 9"});
}

// A metadata count of 0 in front of metadata: the first key would read as a tensor name
// ("tensor 'general.architecture': n_dims 8"); the message must say what is missing.
TEST(GgufCorrupt, ZeroMetadataCountSaysTheArchitectureIsMissing) {
    std::vector<uint8_t> bytes = small_writer().bytes();
    poke<uint64_t>(bytes, 16, 0);
    expect_bad(bytes, {"metadata key 'general.architecture' is missing", "metadata count is 0"});
}

TEST(GgufCorrupt, Alignment) {
    for (uint64_t alignment : {0u, 3u, 48u}) {
        Writer w = small_writer();
        w.set_uint32("general.alignment", static_cast<uint32_t>(alignment));  // layout stays at 32
        expect_bad(w.bytes(),
                   {"metadata key 'general.alignment'", std::to_string(alignment), "power of two"});
    }
    Writer w = small_writer();
    w.set_uint64("general.alignment", 32);
    expect_bad(w.bytes(), {"metadata key 'general.alignment'", "u64", "must be u32"});
    // A valid alignment the layout does not follow: the offsets no longer fit it.
    w = small_writer();
    w.set_uint32("general.alignment", 4096);
    expect_bad(w.bytes(), {"tensor 'tensor.b'", "alignment 4096"});
}

TEST(GgufCorrupt, TensorInfos) {
    std::vector<uint8_t> good = small_writer().bytes();
    auto edit = [&](auto fn) {
        auto b = good;
        fn(b);
        return b;
    };
    const std::string a = "tensor.a", b = "tensor.b";
    expect_bad(edit([&](auto& x) { poke<uint32_t>(x, n_dims_at(good, a), 0); }),
               {"tensor 'tensor.a'", "n_dims 0"});
    expect_bad(edit([&](auto& x) { poke<uint32_t>(x, n_dims_at(good, a), 5); }),
               {"tensor 'tensor.a'", "n_dims 5"});
    expect_bad(edit([&](auto& x) { poke<uint32_t>(x, n_dims_at(good, a), 0xFFFFFFFF); }),
               {"tensor 'tensor.a'", "n_dims 4294967295"});
    expect_bad(edit([&](auto& x) { poke<uint64_t>(x, dim_at(good, a, 1), 0); }),
               {"tensor 'tensor.a'", "dims[1] is 0"});
    expect_bad(edit([&](auto& x) {
                   poke<uint64_t>(x, dim_at(good, a, 0), 1ull << 33);
                   poke<uint64_t>(x, dim_at(good, a, 1), 1ull << 33);
               }),
               {"tensor 'tensor.a'", "overflows"});
    // Elements fit in 64 bits but the byte size (x4 for f32) does not.
    expect_bad(edit([&](auto& x) {
                   poke<uint64_t>(x, dim_at(good, a, 0), 1ull << 31);
                   poke<uint64_t>(x, dim_at(good, a, 1), 1ull << 31);
               }),
               {"tensor 'tensor.a'", "byte size overflows"});
    expect_bad(edit([&](auto& x) { poke<uint32_t>(x, type_at(good, a), 99); }),
               {"tensor 'tensor.a'", "unknown ggml type id 99"});
    expect_bad(
        edit([&](auto& x) { poke<uint32_t>(x, type_at(good, a), 4); }),  // an id ggml retired
        {"tensor 'tensor.a'", "unknown ggml type id 4"});
    expect_bad(edit([&](auto& x) { poke<uint64_t>(x, dim_at(good, b, 0), 48); }),
               {"tensor 'tensor.b'", "row length 48", "q8_0"});
    expect_bad(edit([&](auto& x) {
                   poke<uint64_t>(x, offset_at(good, b),
                                  peek<uint64_t>(good, offset_at(good, b)) + 1);
               }),
               {"tensor 'tensor.b'", "not a multiple of the alignment 32"});
    expect_bad(edit([&](auto& x) { poke<uint64_t>(x, offset_at(good, b), 1 << 20); }),
               {"tensor 'tensor.b'", "end of the file"});
    // The data section start plus this offset overflows.
    expect_bad(edit([&](auto& x) { poke<uint64_t>(x, offset_at(good, b), ~uint64_t{31}); }),
               {"tensor 'tensor.b'", "end of the file"});
    expect_bad(edit([&](auto& x) { poke<uint64_t>(x, dim_at(good, b, 1), 1ull << 50); }),
               {"tensor 'tensor.b'", "end of the file"});
    expect_bad(edit([&](auto& x) {  // start fits, start + bytes overflows
                   poke<uint64_t>(x, offset_at(good, b), 1ull << 63);
                   poke<uint64_t>(x, dim_at(good, b, 1), 1ull << 58);
               }),
               {"tensor 'tensor.b'", "end of the file"});
    expect_bad(edit([&](auto& x) { poke<uint64_t>(x, offset_at(good, b), 0); }),
               {"tensor 'tensor.b'", "overlaps tensor 'tensor.a'"});
    expect_bad(edit([&](auto& x) { x[after(good, b) - 1] = 'a'; }),
               {"duplicate tensor name 'tensor.a'"});
    expect_bad(edit([&](auto& x) { poke<uint64_t>(x, after(good, a) - a.size() - 8, 1ull << 59); }),
               {"tensor #0 name", "string length"});
}

TEST(GgufCorrupt, OverlapIsFoundWhateverTheInfoOrder) {
    // Three tensors: the last info's data overlaps the first one's tail.
    Writer w;
    w.add_tensor("t0", {16}, GgmlType::F32, std::vector<uint8_t>(64));
    w.add_tensor("t1", {8}, GgmlType::F32, std::vector<uint8_t>(32));
    w.add_tensor("t2", {8}, GgmlType::F32, std::vector<uint8_t>(32));
    std::vector<uint8_t> bytes = w.bytes();
    ASSERT_NO_THROW(File::parse(bytes, kName));
    poke<uint64_t>(bytes, offset_at(bytes, "t2"), 32);
    expect_bad(bytes, {"tensor 't2'", "overlaps tensor 't0'"});
}

TEST(GgufCorrupt, DeepArraysAreUnsupported) {
    // Nine levels of arrays: u32 type 9 then (u32 element type 9, u64 length 1) eight times.
    Writer w;
    w.set_uint32("deep", 0);
    std::vector<uint8_t> good = w.bytes();
    std::vector<uint8_t> bad(good.begin(), good.begin() + static_cast<long>(after(good, "deep")));
    auto put32 = [&](uint32_t v) {
        bad.insert(bad.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4);
    };
    auto put64 = [&](uint64_t v) {
        bad.insert(bad.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 8);
    };
    put32(9);
    for (int i = 0; i < 8; ++i) {
        put32(9);
        put64(1);
    }
    put32(4);
    put64(0);
    bad.resize(bad.size() + 64);
    expect_error([&] { File::parse(bad, kName); }, ErrorCode::Unsupported,
                 {kName, "'deep'", "nested"});
}

TEST(GgufCorrupt, OpenErrorsNameThePath) {
    std::string missing = temp_path("missing.gguf");
    expect_error([&] { File::open(missing); }, ErrorCode::BadFile, {missing, "No such file"});
    std::string empty = temp_path("empty.gguf");
    { std::ofstream(empty).flush(); }
    expect_error([&] { File::open(empty); }, ErrorCode::BadFile, {empty, "empty"});
    fs::remove(empty);
    std::string dir = temp_path("dir.gguf");
    fs::create_directories(dir);
    expect_error([&] { File::open(dir); }, ErrorCode::BadFile, {dir, "not a regular file"});
    fs::remove(dir);
    // A corrupt file on disk names its path, not a placeholder.
    std::string bad = temp_path("bad-version.gguf");
    std::vector<uint8_t> bytes = small_writer().bytes();
    poke<uint32_t>(bytes, 4, 1);
    std::ofstream(bad, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
    expect_error([&] { File::open(bad); }, ErrorCode::BadFile, {bad, "version", "1"});
    fs::remove(bad);
}

// A FIFO as the path must be refused at once: a plain open() waits for a writer forever. The
// open runs on another thread; if it is still waiting after seconds, a writer end is opened so
// that it returns and the test fails instead of hanging.
TEST(GgufCorrupt, FifoIsRefusedWithoutBlocking) {
    std::string fifo = temp_path("fifo.gguf");
    fs::remove(fifo);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
    std::string message;
    auto opening = std::async(std::launch::async, [&] {
        try {
            File::open(fifo);
            message = "opened";
        } catch (const Error& e) {
            message = e.what();
        }
    });
    if (opening.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
        int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
        opening.wait();
        if (writer >= 0) ::close(writer);
        ADD_FAILURE() << "File::open blocked on a FIFO";
    }
    EXPECT_NE(message.find(fifo), std::string::npos) << message;
    EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
    fs::remove(fifo);
}

// File::read copies through pread(): the same bytes as the mapping, and an error naming the
// path (not a SIGBUS) once the file has been truncated under it.
TEST(GgufCorrupt, ReadOfATruncatedFileIsAnError) {
    std::string path = temp_path("read.gguf");
    small_writer().write(path);
    File f = File::open(path);
    const TensorInfo& b = *f.find_tensor("tensor.b");
    std::vector<uint8_t> copy(b.data.size());
    f.read(b.data, copy.data());
    EXPECT_TRUE(std::equal(copy.begin(), copy.end(), b.data.begin()));
    ASSERT_EQ(::truncate(path.c_str(), off_t(b.offset + 10)), 0);
    expect_error([&] { f.read(b.data, copy.data()); }, ErrorCode::BadFile,
                 {path, "cannot read bytes " + std::to_string(b.offset + 10), "truncated"});
    fs::remove(path);
}

// Random damage to a valid file may parse (a flipped data byte) or fail, but only with Error.
TEST(GgufCorrupt, RandomByteFlips) {
    Writer w = small_writer();
    w.set("nested", arr(ValueType::Array, {arr(ValueType::U16, {uval(ValueType::U16, 5)})}));
    w.set_bool("flag", false);
    const std::vector<uint8_t> good = w.bytes();
    std::mt19937_64 rng(20240611);
    int parsed = 0, failed = 0;
    for (int iteration = 0; iteration < 5000; ++iteration) {
        std::vector<uint8_t> bytes = good;
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips; ++i) {
            size_t at = rng() % bytes.size();
            // Half the time a single bit, else a whole byte, and sometimes a byte at the edges
            // of a u64 (all-ones lengths and counts are the interesting values).
            switch (rng() % 3) {
                case 0:
                    bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
                    break;
                case 1:
                    bytes[at] = static_cast<uint8_t>(rng());
                    break;
                default:
                    bytes[at] = (rng() & 1) ? 0xFF : 0x00;
                    break;
            }
        }
        if (rng() % 8 == 0) bytes.resize(rng() % bytes.size());
        try {
            File f = File::parse(bytes, kName);
            uint64_t sum = 0;  // touch every byte a span claims, for sanitizer builds
            for (const TensorInfo& t : f.tensors())
                for (uint8_t b : t.data) sum += b;
            (void)sum;
            ++parsed;
        } catch (const Error& e) {
            ++failed;
            ASSERT_NE(std::string(e.what()).find(kName), std::string::npos) << e.what();
        }
    }
    EXPECT_GT(parsed, 0);
    EXPECT_GT(failed, 0);
}

}  // namespace
}  // namespace moevk::gguf
