// libFuzzer target for the GGUF parser (scripts/fuzz-gguf.sh builds and runs it). Any input
// must either parse or throw moevk::Error; a crash, a sanitizer report, any other exception or
// an allocation past libFuzzer's limit is a bug in the reader.
#include <cstddef>
#include <cstdint>

#include "gguf/gguf.h"
#include "gpu/error.h"

namespace {

// Every getter on every key: the conversions must also fail only with Error.
void use_metadata(const moevk::gguf::File& f) {
    for (const auto& entry : f.metadata()) {
        const std::string& key = entry.first;  // clang 14 cannot capture a structured binding
        auto guarded = [](auto&& call) {
            try {
                call();
            } catch (const moevk::Error&) {
            }
        };
        guarded([&] { f.get_uint(key); });
        guarded([&] { f.get_int(key); });
        guarded([&] { f.get_float(key); });
        guarded([&] { f.get_bool(key); });
        guarded([&] { f.get_string(key); });
        guarded([&] { f.get_strings(key); });
        guarded([&] { f.get_floats(key); });
        guarded([&] { f.get_ints(key); });
    }
}

// Reads every byte the tensor spans claim, so a span past the input shows up under ASan.
uint64_t use_tensors(const moevk::gguf::File& f) {
    uint64_t sum = 0;
    for (const moevk::gguf::TensorInfo& t : f.tensors()) {
        for (uint8_t b : t.data) sum += b;
        sum += t.elements() + t.rows();
        if (f.find_tensor(t.name) == nullptr) __builtin_trap();  // parsed names must be found
    }
    return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        moevk::gguf::File f = moevk::gguf::File::parse({data, size}, "fuzz-input.gguf");
        use_metadata(f);
        volatile uint64_t sink = use_tensors(f);
        (void)sink;
    } catch (const moevk::Error&) {
        // Rejecting a malformed input is the expected outcome.
    }
    return 0;
}
