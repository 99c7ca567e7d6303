// Shared pieces of the GPU tests: one Context per test binary with the Khronos validation layer
// on (a test fails if the layer says anything), random inputs, poisoned outputs and an error
// measure for comparing float32 kernels against the double-precision reference.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "gpu/error.h"

namespace moevk::test {

// The test binary's Context (MOEVK_DEVICE picks a device by name substring).
gpu::Context& context();
std::vector<std::string> take_validation_messages();

// Fails the test when the validation layer reported anything during it.
class GpuTest : public ::testing::Test {
protected:
    gpu::Context& ctx() { return context(); }
    void SetUp() override { take_validation_messages(); }
    void TearDown() override;
};

// A quiet NaN: outputs are filled with it first, so an element a kernel fails to write fails the
// comparison.
constexpr uint32_t kPoison = 0x7FC00000u;

std::vector<float> random_floats(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

template <class T>
gpu::Buffer device_buffer(gpu::Context& ctx, const std::vector<T>& data, const std::string& name) {
    gpu::Buffer b = ctx.allocate(data.size() * sizeof(T), gpu::MemoryKind::Device, name);
    gpu::upload(ctx, b, data);
    return b;
}
gpu::Buffer poisoned_buffer(gpu::Context& ctx, size_t words, const std::string& name);

// Every actual[i] is finite and within rtol * max(|expected[i]|, rms(expected)) of expected[i]:
// relative where values are large, and scaled to the data where they cancel to near zero.
::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<double>& expected,
                                     double rtol);

// Runs `f` and checks that it throws moevk::Error with `code` and a message that mentions every
// one of `parts` (a file name, a key, a value): the engine's errors must say what was wrong.
void expect_error(const std::function<void()>& f, ErrorCode code, const std::vector<std::string>& parts);

// A real file holding bytes a test wrote (a GGUF file to open by path), in the system's
// temporary folder under a name of this process's own; removed when it goes.
class TempFile {
public:
    TempFile(const std::string& name, std::span<const uint8_t> bytes);
    ~TempFile();
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace moevk::test
