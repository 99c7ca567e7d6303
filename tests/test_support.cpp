#include "test_support.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>

namespace moevk::test {
namespace {

std::mutex g_messages_lock;
std::vector<std::string> g_messages;
std::unique_ptr<gpu::Context> g_context;

class ContextEnvironment : public ::testing::Environment {
public:
    void TearDown() override { g_context.reset(); }
};
const auto* g_environment = ::testing::AddGlobalTestEnvironment(new ContextEnvironment);

}  // namespace

gpu::Context& context() {
    if (!g_context) {
        gpu::ContextOptions options;
        options.validation = true;
        options.on_validation_message = [](const std::string& m) {
            std::lock_guard<std::mutex> guard(g_messages_lock);
            g_messages.push_back(m);
        };
        if (const char* name = std::getenv("MOEVK_DEVICE")) options.device.name_contains = name;
        g_context = gpu::Context::create(options);
    }
    return *g_context;
}

std::vector<std::string> take_validation_messages() {
    std::lock_guard<std::mutex> guard(g_messages_lock);
    return std::exchange(g_messages, {});
}

void GpuTest::TearDown() {
    std::vector<std::string> messages = take_validation_messages();
    for (const std::string& m : messages) ADD_FAILURE() << "validation layer: " << m;
}

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

gpu::Buffer poisoned_buffer(gpu::Context& ctx, size_t words, const std::string& name) {
    gpu::Buffer b = ctx.allocate(words * 4, gpu::MemoryKind::Device, name);
    gpu::fill(ctx, b, kPoison);
    return b;
}

::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<double>& expected,
                                     double rtol) {
    if (actual.size() != expected.size())
        return ::testing::AssertionFailure() << "size " << actual.size() << " != expected " << expected.size();
    double sum_sq = 0;
    for (double e : expected) sum_sq += e * e;
    double rms = expected.empty() ? 0 : std::sqrt(sum_sq / expected.size());
    size_t bad = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < actual.size(); ++i) {
        double scale = std::max(std::fabs(expected[i]), rms);
        double err = std::fabs(double(actual[i]) - expected[i]);
        double rel = scale > 0 ? err / scale : err;
        if (!std::isfinite(actual[i]) || rel > rtol) {
            if (bad++ == 0) first = i;
        }
        if (std::isfinite(rel)) worst = std::max(worst, rel);
    }
    if (bad == 0) return ::testing::AssertionSuccess() << "worst relative error " << worst;
    return ::testing::AssertionFailure() << bad << " of " << actual.size() << " elements off (rtol " << rtol
                                         << "); first at " << first << ": got " << actual[first] << ", expected "
                                         << expected[first] << "; worst finite relative error " << worst;
}

void expect_error(const std::function<void()>& f, ErrorCode code, const std::vector<std::string>& parts) {
    std::string wanted;
    for (const std::string& p : parts) wanted += (wanted.empty() ? "\"" : ", \"") + p + "\"";
    try {
        f();
        ADD_FAILURE() << "no error thrown; expected one mentioning " << wanted;
    } catch (const Error& e) {
        EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(code)) << e.what();
        std::string message = e.what();
        for (const std::string& part : parts)
            EXPECT_NE(message.find(part), std::string::npos)
                << "message \"" << message << "\" does not mention \"" << part << "\"";
    }
}

TempFile::TempFile(const std::string& name, std::span<const uint8_t> bytes) {
    std::filesystem::path p = std::filesystem::temp_directory_path() /
                              ("moevk-test-" + std::to_string(::getpid()) + "-" + name);
    path_ = p.string();
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path_);
}

TempFile::~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
}

}  // namespace moevk::test
