// Writes the fuzzer's seed corpus: small valid GGUF files (each well under 4 KiB) that reach
// every part of the parser, from the header to the tensor data.
//
// The seeds are generated when scripts/fuzz-gguf.sh runs rather than committed as binaries, so
// they always come from the current Writer (a format change cannot leave stale seeds behind)
// and the repository holds no opaque files.
#include <cstdio>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gpu/error.h"

using moevk::gguf::Array;
using moevk::gguf::Value;
using moevk::gguf::ValueType;
using moevk::gguf::Writer;
using moevk::quant::GgmlType;

namespace {

std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 37 + 11);
    return v;
}

Value array_of(ValueType type, std::vector<Value> items) {
    return Value{ValueType::Array, Array{type, std::move(items)}};
}

Writer empty_file() {
    return Writer();
}

Writer every_value_type() {
    Writer w;
    w.set("u8", Value{ValueType::U8, uint64_t{200}});
    w.set("i8", Value{ValueType::I8, int64_t{-100}});
    w.set("u16", Value{ValueType::U16, uint64_t{60000}});
    w.set("i16", Value{ValueType::I16, int64_t{-30000}});
    w.set_uint32("u32", 4000000000u);
    w.set_int32("i32", -2000000000);
    w.set_uint64("u64", 1ull << 63);
    w.set("i64", Value{ValueType::I64, int64_t{-(1ll << 62)}});
    w.set_float32("f32", 0.5f);
    w.set("f64", Value{ValueType::F64, 1e-300});
    w.set_bool("bool", true);
    w.set_string("string", "text");
    w.set_strings("strings", {"<s>", "</s>", "a", ""});
    w.set_float32s("floats", {0.0f, -1.0f});
    w.set_int32s("ints", {1, -2, 3});
    w.set("nested", array_of(ValueType::Array,
                             {array_of(ValueType::U16, {Value{ValueType::U16, uint64_t{5}}}),
                              array_of(ValueType::String, {})}));
    return w;
}

Writer small_model() {
    Writer w;
    w.set_string("general.architecture", "llama");
    w.set_uint32("llama.block_count", 1);
    w.set_uint32("llama.expert_count", 2);
    w.set_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    w.add_tensor("token_embd.weight", {8, 3}, GgmlType::F32, pattern(8 * 3 * 4));
    w.add_tensor("blk.0.ffn_gate_inp.weight", {8, 2}, GgmlType::F16, pattern(8 * 2 * 2));
    w.add_tensor("blk.0.ffn_gate_exps.weight", {32, 2, 2}, GgmlType::Q8_0, pattern(4 * 34));
    return w;
}

Writer aligned_k_quant() {
    Writer w;
    w.set_alignment(64);
    w.set_string("general.architecture", "qwen3moe");
    w.add_tensor("blk.0.ffn_down_exps.weight", {256, 1, 2}, GgmlType::Q4_K, pattern(2 * 144));
    w.add_tensor("output_norm.weight", {4}, GgmlType::F32, pattern(16));
    return w;
}

void save(const Writer& w, const std::string& path) {
    w.write(path);
    std::printf("%s: %zu bytes\n", path.c_str(), w.bytes().size());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_FOLDER\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    try {
        save(empty_file(), dir + "/empty.gguf");
        save(every_value_type(), dir + "/values.gguf");
        save(small_model(), dir + "/model.gguf");
        save(aligned_k_quant(), dir + "/aligned64.gguf");
    } catch (const moevk::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
