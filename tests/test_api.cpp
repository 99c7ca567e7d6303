// The public API through the C++ wrappers (include/moevk/moevk.hpp), seen as a host application
// sees it: only the public headers and the system Vulkan loader, linked against libmoevk.so.
//
// Most expected values come from outside the library (the demo asset's README, llama.cpp's ids
// for the vocabulary fixtures, what a chat format writes); the rest compare two paths of the
// library that the headers say must agree: generate() and feed/eval/sample, a batch and token by
// token, a grown conversation and a fresh one, two threads and one, a host's VkDevice and the
// engine's own, the budgeted frame-loop steps and generate(), paged experts and resident ones.
//
// Every engine made here runs with the validation layer on, and the host-device tests put the
// layer on the host's own instance: any message fails the test that was running.
#include <gtest/gtest.h>
#include <vulkan/vulkan.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "moevk/moevk.h"
#include "moevk/moevk.hpp"
#include "moevk/moevk_vulkan.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kDemo = std::string(MOEVK_ASSETS_DIR) + "/moe-vk-demo.gguf";
const fs::path kFixtures = fs::path(MOEVK_FIXTURES_DIR);

// What assets/README.md says the demo model is.
constexpr uint32_t kDemoLayers = 2;
constexpr uint32_t kDemoExperts = 8;
constexpr uint32_t kDemoTopK = 2;
constexpr uint32_t kDemoVocab = 1024;

const char* const kPrompt = "The licence says that you may copy";

// --- validation messages ------------------------------------------------------------------------

struct MessageLog {
    std::mutex mutex;
    std::vector<std::string> messages;

    void add(std::string m) {
        std::lock_guard<std::mutex> lock(mutex);
        messages.push_back(std::move(m));
    }
    std::vector<std::string> take() {
        std::lock_guard<std::mutex> lock(mutex);
        return std::exchange(messages, {});
    }
};

MessageLog& engine_messages() {
    static MessageLog log;
    return log;
}

void on_engine_validation(void* user, const char* message) {
    static_cast<MessageLog*>(user)->add(message ? message : "(NULL message)");
}

moevk_engine_options validated_options() {
    moevk_engine_options o = moevk_engine_options_default();
    o.validation = 1;
    o.on_validation_message = on_engine_validation;
    o.validation_user = &engine_messages();
    return o;
}

// --- the binary's engine and demo model ---------------------------------------------------------

// One engine and one demo model for the whole binary (pipelines compile once per engine, which is
// most of the cost on lavapipe), made on first use and destroyed before the process ends, so that
// what the layer says at device destruction is still checked.
class SharedEngine : public ::testing::Environment {
  public:
    static moevk::Engine& engine() {
        if (!engine_) engine_.emplace(validated_options());
        return *engine_;
    }
    static moevk::Model& demo() {
        if (!demo_) demo_.emplace(engine(), kDemo);
        return *demo_;
    }
    void TearDown() override {
        demo_.reset();
        engine_.reset();
        for (const std::string& m : engine_messages().take())
            ADD_FAILURE() << "validation layer (at engine destruction): " << m;
    }

  private:
    static inline std::optional<moevk::Engine> engine_;
    static inline std::optional<moevk::Model> demo_;
};

[[maybe_unused]] ::testing::Environment* const shared_environment =
    ::testing::AddGlobalTestEnvironment(new SharedEngine);

class Api : public ::testing::Test {
  protected:
    void SetUp() override {
        for (const std::string& m : engine_messages().take())
            ADD_FAILURE() << "validation layer (before this test): " << m;
    }
    void TearDown() override {
        for (const std::string& m : engine_messages().take())
            ADD_FAILURE() << "validation layer: " << m;
    }
    moevk::Engine& engine() { return SharedEngine::engine(); }
    moevk::Model& demo() { return SharedEngine::demo(); }
    moevk::Tokenizer tokenizer() { return demo().tokenizer(); }
    std::vector<int32_t> prompt() { return tokenizer().tokenize(kPrompt, 0); }
};

// --- helpers
// --------------------------------------------------------------------------------------

moevk_session_options session_options(uint32_t n_ctx, uint64_t seed, float temperature = 0.8f) {
    moevk_session_options o = moevk_session_options_default();
    o.n_ctx = n_ctx;
    o.max_batch = 64;
    o.sampling.seed = seed;
    o.sampling.temperature = temperature;
    return o;
}

// A generation's streamed tokens and text.
// A generation's streamed tokens and text. The callback's last call may have token -1: the
// text held back at the end (a stop string's possible start, an unfinished character).
struct Streamed {
    std::vector<int32_t> tokens;      // the tokens, without the -1
    std::vector<std::string> pieces;  // the text of each call, the -1's included
    std::string text;                 // all of it
    std::string held_back;            // the text of the call with token -1
    int final_calls = 0;              // calls with token -1
    int calls_after_final = 0;        // calls after one with token -1
    moevk_generation result{};
};

moevk::Generate collecting(Streamed& run, uint32_t max_tokens, bool ignore_eog = true,
                           std::vector<std::string> stops = {}) {
    moevk::Generate g;
    g.max_tokens = max_tokens;
    g.ignore_eog = ignore_eog;
    g.stop_strings = std::move(stops);
    g.on_token = [&run](int32_t token, std::string_view text) {
        if (run.final_calls) ++run.calls_after_final;
        if (token == -1) {
            ++run.final_calls;
            run.held_back += text;
        } else {
            run.tokens.push_back(token);
        }
        run.pieces.emplace_back(text);
        run.text += text;
        return true;
    };
    return g;
}

Streamed generate(moevk::Session& s, uint32_t max_tokens, bool ignore_eog = true,
                  std::vector<std::string> stops = {}) {
    Streamed run;
    run.result = s.generate(collecting(run, max_tokens, ignore_eog, std::move(stops)));
    return run;
}

// A fresh session on `model` fed `prompt`, `n` tokens generated (end-of-generation ignored).
std::vector<int32_t> generated_tokens(const moevk::Model& model, const std::vector<int32_t>& prompt,
                                      uint64_t seed, uint32_t n, float temperature = 0.8f) {
    moevk::Session s(model, session_options(128, seed, temperature));
    s.feed(prompt);
    return generate(s, n).tokens;
}

// Runs `f` and checks that it throws moevk::Exception with `status` and a message that mentions
// each of `parts`.
void expect_exception(const std::function<void()>& f, moevk_status status,
                      const std::vector<std::string>& parts = {}) {
    try {
        f();
        ADD_FAILURE() << "no exception; expected " << moevk_status_name(status);
    } catch (const moevk::Exception& e) {
        EXPECT_EQ(e.status(), status) << moevk_status_name(e.status()) << ": " << e.what();
        for (const std::string& p : parts)
            EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
                << "\"" << e.what() << "\" does not name " << p;
    }
}

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

std::string ids_text(const std::vector<int32_t>& ids) {
    std::ostringstream s;
    s << '[';
    for (size_t i = 0; i < ids.size(); ++i) s << (i ? " " : "") << ids[i];
    s << ']';
    return s.str();
}

// UTF-8: how long the prefix of `s` is that ends on a character boundary (what a streaming
// detokenizer may give out), and whether `s` is whole UTF-8.
size_t complete_prefix(std::string_view s) {
    size_t i = s.size(), trailing = 0;
    while (i > 0 && trailing < 3 && (static_cast<uint8_t>(s[i - 1]) & 0xC0) == 0x80) {
        --i;
        ++trailing;
    }
    if (i == 0) return trailing ? 0 : s.size();
    const uint8_t lead = static_cast<uint8_t>(s[i - 1]);
    const size_t need = lead < 0x80         ? 1
                        : (lead >> 5) == 6  ? 2
                        : (lead >> 4) == 14 ? 3
                        : (lead >> 3) == 30 ? 4
                                            : 1;
    return trailing + 1 >= need ? s.size() : i - 1;
}

bool whole_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const uint8_t b = static_cast<uint8_t>(s[i]);
        const size_t n = b < 0x80         ? 1
                         : (b >> 5) == 6  ? 2
                         : (b >> 4) == 14 ? 3
                         : (b >> 3) == 30 ? 4
                                          : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

size_t argmax(const float* row, size_t n) {
    return size_t(std::max_element(row, row + n) - row);
}

// Two logits rows from two paths of the engine (a GEMM batch and a matrix-vector step): equal up
// to f32 rounding, max |a - b| <= rel x max |b|, and the same top token unless the expected row
// has a tie within that tolerance.
::testing::AssertionResult rows_close(const float* a, const float* b, size_t n, double rel = 1e-4) {
    double scale = 0, diff = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(a[i]))
            return ::testing::AssertionFailure() << "logit " << i << " is " << a[i];
        scale = std::max(scale, double(std::fabs(b[i])));
        diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    }
    const size_t ia = argmax(a, n), ib = argmax(b, n);
    if (diff > rel * scale)
        return ::testing::AssertionFailure()
               << "max |diff| " << diff << " > " << rel << " x scale " << scale;
    if (ia != ib && std::fabs(double(b[ia]) - double(b[ib])) > 2 * rel * scale)
        return ::testing::AssertionFailure()
               << "argmax " << ia << " vs " << ib << " (logits " << b[ia] << ", " << b[ib] << ")";
    return ::testing::AssertionSuccess() << "max |diff| " << diff << " of scale " << scale;
}

std::string read_file(const fs::path& path);

// --- engines, devices, errors -------------------------------------------------------------------

TEST_F(Api, EngineDescribesItsDevice) {
    std::vector<moevk_device_info> devices = moevk::Engine::devices();
    ASSERT_FALSE(devices.empty());
    moevk_device_info info = engine().device_info();
    EXPECT_STRNE(info.name, "");
    EXPECT_GE(info.api_version, uint32_t(VK_API_VERSION_1_2));
    EXPECT_GT(info.device_local_bytes, 0u);
    EXPECT_TRUE(engine().owns_device());
    EXPECT_TRUE(std::any_of(
        devices.begin(), devices.end(),
        [&](const moevk_device_info& d) { return std::strcmp(d.name, info.name) == 0; }))
        << info.name << " is not among the devices the loader offers";

    // By name: a case-insensitive part of it.
    const std::string name = info.name;
    std::string part = name.substr(0, std::min<size_t>(name.size(), 5));
    for (char& c : part) c = char(std::toupper(static_cast<unsigned char>(c)));
    moevk_engine_options o = validated_options();
    o.device_name = part.c_str();
    moevk::Engine by_name(o);
    std::string chosen = by_name.device_info().name;
    for (char& c : chosen) c = char(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(contains(chosen, part))
        << by_name.device_info().name << " chosen for \"" << part << "\"";
}

TEST_F(Api, EngineThrowsNoDeviceForAnUnknownName) {
    moevk_engine_options o = validated_options();
    o.device_name = "no-such-device-x9";
    expect_exception([&] { moevk::Engine e(o); }, MOEVK_ERROR_NO_DEVICE, {"no-such-device-x9"});
}

TEST_F(Api, LastErrorIsKeptPerThread) {
    moevk_model* m = nullptr;
    const moevk_model_options mo = moevk_model_options_default();
    ASSERT_EQ(moevk_model_load(engine().get(), "/nonexistent/main-thread.gguf", &mo, &m),
              MOEVK_ERROR_BAD_FILE);
    const std::string mine = moevk_last_error();
    EXPECT_TRUE(contains(mine, "main-thread.gguf")) << mine;

    std::string other_before, other_after;
    std::thread t([&] {
        other_before = moevk_last_error();
        moevk_tokenizer* tok = nullptr;
        moevk_tokenizer_load("/nonexistent/other-thread.gguf", &tok);
        other_after = moevk_last_error();
    });
    t.join();
    EXPECT_EQ(other_before, "") << "a thread that made no call sees another thread's error";
    EXPECT_TRUE(contains(other_after, "other-thread.gguf")) << other_after;
    EXPECT_EQ(std::string(moevk_last_error()), mine)
        << "another thread's error replaced this thread's";
    // A successful call clears it.
    uint32_t n = 0;
    EXPECT_EQ(moevk_device_count(&n), MOEVK_OK);
    EXPECT_STREQ(moevk_last_error(), "");
}

// The wrappers' exceptions carry the status and the library's message as check() writes them.
TEST_F(Api, CheckThrowsTheStatusAndTheLastError) {
    moevk_tokenizer* t = nullptr;
    moevk_status s = moevk_tokenizer_load("/nonexistent/check-x9.gguf", &t);
    ASSERT_EQ(s, MOEVK_ERROR_BAD_FILE);
    const std::string message = moevk_last_error();
    ASSERT_TRUE(contains(message, "check-x9.gguf")) << message;
    try {
        moevk::check(s);
        ADD_FAILURE() << "check() did not throw";
    } catch (const moevk::Exception& e) {
        EXPECT_EQ(e.status(), MOEVK_ERROR_BAD_FILE);
        EXPECT_EQ(std::string(e.what()), std::string("MOEVK_ERROR_BAD_FILE: ") + message);
    }
    EXPECT_NO_THROW(moevk::check(MOEVK_OK));
}

// --- models
// ---------------------------------------------------------------------------------------

TEST_F(Api, ModelInfoIsTheDemoAssetsDescription) {
    moevk_model_info info = demo().info();
    EXPECT_STREQ(info.architecture, "llama");
    EXPECT_EQ(info.n_layers, kDemoLayers);
    EXPECT_EQ(info.n_experts, kDemoExperts);
    EXPECT_EQ(info.top_k, kDemoTopK);
    EXPECT_EQ(info.d_model, 1024u);
    EXPECT_EQ(info.d_ff, 128u);
    EXPECT_EQ(info.n_heads, 8u);
    EXPECT_EQ(info.n_kv_heads, 2u);
    EXPECT_EQ(info.n_vocab, kDemoVocab);
    EXPECT_STREQ(info.expert_format, "q4_k");
    EXPECT_EQ(info.file_bytes, fs::file_size(kDemo));
    EXPECT_EQ(info.experts_paged, 0);
    EXPECT_GT(info.device_bytes, 0u);
    EXPECT_STREQ(info.vocab_error, "");
    ASSERT_NE(moevk_model_get_tokenizer(demo().get()), nullptr);
    moevk::Tokenizer tok = demo().tokenizer();
    EXPECT_EQ(tok.info().n_vocab, info.n_vocab);
    EXPECT_STREQ(tok.info().chat_template, info.chat_template);
}

TEST_F(Api, ModelLoadReportsProgressAndCancels) {
    std::vector<float> fractions;
    const std::thread::id caller = std::this_thread::get_id();
    bool other_thread = false;
    {
        moevk::Model m(engine(), kDemo, moevk_model_options_default(), [&](float f) {
            fractions.push_back(f);
            other_thread |= std::this_thread::get_id() != caller;
            return true;
        });
        EXPECT_EQ(m.info().n_layers, kDemoLayers);
    }
    ASSERT_FALSE(fractions.empty());
    EXPECT_FALSE(other_thread) << "the progress callback ran on another thread";
    for (size_t i = 0; i < fractions.size(); ++i) {
        EXPECT_GE(fractions[i], 0.0f);
        EXPECT_LE(fractions[i], 1.0f);
        if (i) {
            EXPECT_GE(fractions[i], fractions[i - 1]) << "at call " << i;
        }
    }

    int calls = 0;
    expect_exception(
        [&] {
            moevk::Model m(engine(), kDemo, moevk_model_options_default(),
                           [&](float) { return ++calls < 2; });
        },
        MOEVK_ERROR_CANCELLED);
    EXPECT_EQ(calls, 2);

    // An exception from the callback cancels the load and reaches the caller as itself.
    try {
        moevk::Model m(engine(), kDemo, moevk_model_options_default(), [](float) -> bool {
            throw std::domain_error("from the progress callback");
        });
        ADD_FAILURE() << "no exception";
    } catch (const std::domain_error& e) {
        EXPECT_STREQ(e.what(), "from the progress callback");
    }
    // The engine goes on loading.
    moevk::Model again(engine(), kDemo);
    EXPECT_EQ(again.info().n_vocab, kDemoVocab);
}

TEST_F(Api, ModelErrorsThrow) {
    expect_exception([&] { moevk::Model m(engine(), "/nonexistent/dir/missing-model.gguf"); },
                     MOEVK_ERROR_BAD_FILE, {"missing-model.gguf"});
    // A vocabulary-only file has no tensors to run.
    const fs::path vocab = kFixtures / "vocab" / "ggml-vocab-gpt-2.gguf";
    if (fs::exists(vocab)) {
        try {
            moevk::Model m(engine(), vocab.string());
            ADD_FAILURE() << "a vocabulary-only file loaded as a model";
        } catch (const moevk::Exception& e) {
            EXPECT_TRUE(e.status() == MOEVK_ERROR_BAD_FILE || e.status() == MOEVK_ERROR_UNSUPPORTED)
                << e.what();
        }
    }
    // A budget too small for one layer's top-k: the load works, every session is refused.
    moevk_model_options o = moevk_model_options_default();
    o.vram_budget = "1K";
    moevk::Model tiny(engine(), kDemo, o);
    EXPECT_EQ(tiny.info().experts_paged, 1);
    try {
        moevk::Session s(tiny, session_options(64, 1));
        ADD_FAILURE() << "a session fit in a budget of 1K";
    } catch (const moevk::Exception& e) {
        // The header does not say which status; a budget is a value out of range.
        EXPECT_TRUE(e.status() == MOEVK_ERROR_INVALID_ARGUMENT ||
                    e.status() == MOEVK_ERROR_OUT_OF_MEMORY)
            << e.what();
        EXPECT_TRUE(contains(e.what(), "budget")) << e.what();
    }
}

// A model whose vocabulary cannot be read still runs token ids (moevk.h, get_tokenizer): the
// demo with its token list's key renamed, so that the weights are the demo's own.
TEST_F(Api, AModelWithoutAReadableVocabularyRunsTokenIds) {
    const fs::path path = fs::path(MOEVK_TEST_TMP_DIR) / "test_api-no-vocab.gguf";
    {
        std::string bytes = read_file(kDemo);
        const std::string key = "tokenizer.ggml.tokens";
        size_t at = bytes.find(key);
        ASSERT_NE(at, std::string::npos);
        bytes[at + key.size() - 1] = 'X';  // tokenizer.ggml.tokenX: no token list any more
        std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
    }
    const std::vector<int32_t> p = prompt();
    {
        moevk::Model m(engine(), path.string());
        moevk_model_info info = m.info();
        EXPECT_STRNE(info.vocab_error, "") << "no reason given for the missing tokenizer";
        EXPECT_EQ(moevk_model_get_tokenizer(m.get()), nullptr);
        EXPECT_EQ(info.n_vocab, kDemoVocab);

        moevk::Session s(m, session_options(128, 21));
        s.feed(p);
        Streamed run = generate(s, 6);
        EXPECT_EQ(run.tokens, generated_tokens(demo(), p, 21, 6))
            << "the same weights gave other tokens";
        EXPECT_EQ(run.text, "") << "generated tokens have no text without a vocabulary";
        try {
            s.feed_chat({{MOEVK_ROLE_USER, "Hello"}});
            ADD_FAILURE() << "feed_chat worked without a vocabulary";
        } catch (const moevk::Exception& e) {
            EXPECT_NE(e.status(), MOEVK_OK) << e.what();
        }
        EXPECT_EQ(generate(s, 2).tokens.size(), 2u) << "the session after the refused feed_chat";
    }
    fs::remove(path);
}

// --- generation
// -----------------------------------------------------------------------------------

TEST_F(Api, GenerateEqualsFeedEvalSample) {
    const std::vector<int32_t> p = prompt();
    const moevk_session_options o = session_options(128, 4242);
    moevk::Session a(demo(), o);
    a.feed(p);
    Streamed run = generate(a, 16);
    ASSERT_EQ(run.tokens.size(), 16u);

    moevk::Session b(demo(), o);
    b.feed(p);
    std::vector<int32_t> by_hand;
    for (int i = 0; i < 16; ++i) {
        b.eval({});
        int32_t t = b.sample();
        by_hand.push_back(t);
        b.feed(std::span<const int32_t>(&t, 1));
    }
    EXPECT_EQ(run.tokens, by_hand)
        << "generate " << ids_text(run.tokens) << "\nby hand  " << ids_text(by_hand);
    EXPECT_EQ(a.info().position + a.info().pending, p.size() + 16);
    EXPECT_EQ(b.info().position + b.info().pending, p.size() + 16);
    // Sampling was on: another seed gives other tokens (the test would be weak otherwise).
    EXPECT_NE(generated_tokens(demo(), p, 4243, 16), run.tokens);
}

TEST_F(Api, GreedyIsDeterministic) {
    const std::vector<int32_t> p = prompt();
    std::vector<int32_t> first = generated_tokens(demo(), p, 1, 10, 0.0f);
    EXPECT_EQ(generated_tokens(demo(), p, 999, 10, 0.0f), first) << "greedy depends on the seed";
    moevk::Session s(demo(), session_options(128, 7, 0.0f));
    s.feed(p);
    EXPECT_EQ(generate(s, 10).tokens, first);
    s.reset();
    s.feed(p);
    EXPECT_EQ(generate(s, 10).tokens, first) << "after reset()";
}

TEST_F(Api, StreamedTextIsTheDetokenizedTokens) {
    const std::vector<int32_t> p = prompt();
    moevk::Session s(demo(), session_options(128, 31337));
    s.feed(p);
    const std::thread::id caller = std::this_thread::get_id();
    bool other_thread = false;
    Streamed run;
    moevk::Generate g = collecting(run, 24);
    auto inner = g.on_token;
    g.on_token = [&](int32_t t, std::string_view text) {
        other_thread |= std::this_thread::get_id() != caller;
        return inner(t, text);
    };
    run.result = s.generate(g);
    EXPECT_FALSE(other_thread) << "the token callback ran on another thread";
    EXPECT_EQ(run.result.end, MOEVK_END_LENGTH);
    ASSERT_EQ(run.tokens.size(), 24u);
    EXPECT_EQ(run.result.generated_tokens, 24u);
    EXPECT_EQ(run.result.prompt_tokens, p.size());

    for (const std::string& piece : run.pieces)
        EXPECT_TRUE(whole_utf8(piece)) << "a piece of broken UTF-8";
    EXPECT_LE(run.final_calls, 1);
    EXPECT_EQ(run.calls_after_final, 0);
    // Ended by length: whatever was held back came in the last call, so all of the text came.
    EXPECT_EQ(run.text, tokenizer().detokenize(run.tokens));

    // The history is the prompt, then the streamed tokens.
    std::vector<int32_t> history = s.tokens();
    ASSERT_GE(history.size(), p.size());
    EXPECT_TRUE(std::equal(p.begin(), p.end(), history.begin()));
    std::vector<int32_t> after(history.begin() + ptrdiff_t(p.size()), history.end());
    ASSERT_LE(after.size(), run.tokens.size());
    EXPECT_TRUE(std::equal(after.begin(), after.end(), run.tokens.begin()));
}

TEST_F(Api, StopStringEndsTheGenerationAndIsNotStreamed) {
    const std::vector<int32_t> p = prompt();
    moevk::Session a(demo(), session_options(128, 1, 0.0f));
    a.feed(p);
    Streamed free_run = generate(a, 32);
    const std::string& text = free_run.text;
    // A stop string from the middle of the greedy text: three printable ASCII characters at a
    // token boundary past the fifth token, whose first occurrence is not at the start.
    std::string stop;
    size_t first = 0, off = 0;
    for (size_t i = 0; i < free_run.pieces.size() && stop.empty();
         off += free_run.pieces[i].size(), ++i) {
        if (i < 5 || off + 3 > text.size()) continue;
        std::string candidate = text.substr(off, 3);
        if (std::all_of(candidate.begin(), candidate.end(),
                        [](char c) { return c > ' ' && c < 127; }) &&
            text.find(candidate) > 0) {
            stop = candidate;
            first = text.find(candidate);
        }
    }
    ASSERT_FALSE(stop.empty()) << "no stop string candidate in \"" << text << "\"";

    moevk::Session b(demo(), session_options(128, 1, 0.0f));
    b.feed(p);
    Streamed stopped = generate(b, 32, true, {stop});
    EXPECT_EQ(stopped.result.end, MOEVK_END_STOP_STRING)
        << "stop string \"" << stop << "\" in \"" << text << "\"";
    EXPECT_EQ(stopped.text, text.substr(0, first)) << "stop string \"" << stop << "\"";
    EXPECT_LT(stopped.result.generated_tokens, 32u);
    EXPECT_EQ(stopped.result.generated_tokens, stopped.tokens.size());
}

// A stop string that the end of the text could start is held back, and comes in the last call
// (token -1) when the generation ends by length.
TEST_F(Api, HeldBackTextComesInALastCallWithTokenMinusOne) {
    const std::vector<int32_t> p = prompt();
    moevk::Session a(demo(), session_options(128, 1, 0.0f));
    a.feed(p);
    Streamed free_run = generate(a, 12);
    const std::string& text = free_run.text;
    ASSERT_GE(text.size(), 2u);
    ASSERT_TRUE(std::all_of(text.end() - 2, text.end(), [](char c) { return c > 0 && c < 127; }))
        << text;
    const std::string stop = text.substr(text.size() - 2) + "\x01";

    moevk::Session b(demo(), session_options(128, 1, 0.0f));
    b.feed(p);
    Streamed held = generate(b, 12, true, {stop});
    EXPECT_EQ(held.result.end, MOEVK_END_LENGTH);
    EXPECT_EQ(held.tokens, free_run.tokens);
    EXPECT_EQ(held.result.generated_tokens, 12u) << "the call with token -1 is not a token";
    EXPECT_EQ(held.final_calls, 1) << "no last call with the held-back text";
    EXPECT_EQ(held.calls_after_final, 0);
    EXPECT_GE(held.held_back.size(), 2u);
    EXPECT_EQ(held.held_back, text.substr(text.size() - held.held_back.size()));
    EXPECT_EQ(held.text, text) << "held back \"" << held.held_back << "\"";
}

TEST_F(Api, MaxTokensEndsWithLengthAndZeroOnlyEvaluates) {
    const std::vector<int32_t> p = prompt();
    moevk::Session s(demo(), session_options(128, 5));
    s.feed(p);
    Streamed run = generate(s, 5);
    EXPECT_EQ(run.result.end, MOEVK_END_LENGTH);
    EXPECT_EQ(run.result.generated_tokens, 5u);
    EXPECT_EQ(run.tokens.size(), 5u);
    EXPECT_EQ(s.last_generation().end, MOEVK_END_LENGTH);
    EXPECT_EQ(s.last_generation().generated_tokens, 5u);

    moevk::Session z(demo(), session_options(128, 5));
    z.feed(p);
    Streamed none = generate(z, 0);
    EXPECT_TRUE(none.tokens.empty());
    EXPECT_EQ(none.result.generated_tokens, 0u);
    EXPECT_EQ(none.result.prompt_tokens, p.size());
    EXPECT_EQ(z.info().position, p.size());
    EXPECT_EQ(z.info().pending, 0u);
}

TEST_F(Api, CallbackReturningFalseStops) {
    moevk::Session s(demo(), session_options(128, 5));
    s.feed(prompt());
    int calls = 0;
    moevk::Generate g;
    g.max_tokens = 20;
    g.ignore_eog = true;
    g.on_token = [&](int32_t, std::string_view) { return ++calls < 3; };
    moevk_generation r = s.generate(g);
    EXPECT_EQ(r.end, MOEVK_END_STOPPED);
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(r.generated_tokens, 3u);
}

TEST_F(Api, CallbackExceptionReachesTheCaller) {
    moevk::Session s(demo(), session_options(128, 5));
    s.feed(prompt());
    moevk::Generate g;
    g.max_tokens = 20;
    g.ignore_eog = true;
    int calls = 0;
    g.on_token = [&](int32_t, std::string_view) -> bool {
        if (++calls == 2) throw std::logic_error("from the token callback");
        return true;
    };
    try {
        s.generate(g);
        ADD_FAILURE() << "no exception";
    } catch (const std::logic_error& e) {
        EXPECT_STREQ(e.what(), "from the token callback");
    }
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(s.last_generation().end, MOEVK_END_STOPPED);
    // The session goes on.
    EXPECT_EQ(generate(s, 2).tokens.size(), 2u);
}

TEST_F(Api, GenerationEndsAtAFullContext) {
    const std::vector<int32_t> p = prompt();
    ASSERT_LT(p.size(), 20u);
    moevk::Session s(demo(), session_options(24, 5));
    s.feed(p);
    Streamed run = generate(s, 100);
    EXPECT_EQ(run.result.end, MOEVK_END_CONTEXT_FULL);
    // Room for 24 - |prompt| fed tokens, and perhaps one more sampled that could not be fed.
    EXPECT_GE(run.result.generated_tokens, 24 - p.size());
    EXPECT_LE(run.result.generated_tokens, 24 - p.size() + 1);
    EXPECT_LE(s.info().position, 24u);
}

TEST_F(Api, InputThatDoesNotFitThrowsContextFull) {
    std::vector<int32_t> p = prompt();
    std::vector<int32_t> twice = p;
    twice.insert(twice.end(), p.begin(), p.end());
    moevk::Session s(demo(), session_options(16, 5));
    ASSERT_GT(twice.size(), 16u);
    expect_exception(
        [&] {
            s.feed(twice);
            s.eval({});
        },
        MOEVK_ERROR_CONTEXT_FULL, {"16"});
    s.truncate(0);
    EXPECT_EQ(s.info().position, 0u);
    s.feed(std::span<const int32_t>(p).first(4));
    EXPECT_EQ(generate(s, 2).tokens.size(), 2u);
}

// --- chat
// -----------------------------------------------------------------------------------------

TEST_F(Api, FeedChatSecondTurnEvaluatesOnlyTheNewPart) {
    moevk::Tokenizer tok = tokenizer();
    ASSERT_EQ(tok.info().add_bos, 0) << "the test computes the demo's prompt tokens without BOS";
    const moevk_session_options o = session_options(512, 3, 0.0f);
    std::vector<moevk::Message> conv = {{MOEVK_ROLE_USER, "What may I do with the licence?"}};

    moevk::Session s(demo(), o);
    s.feed_chat(conv);
    Streamed first = generate(s, 12, false);
    const std::vector<int32_t> first_prompt =
        tok.tokenize(tok.render(conv), MOEVK_TOKENIZE_PARSE_SPECIAL);
    EXPECT_EQ(first.result.prompt_tokens, first_prompt.size());
    {
        std::vector<int32_t> h = s.tokens();
        ASSERT_GE(h.size(), first_prompt.size());
        EXPECT_TRUE(std::equal(first_prompt.begin(), first_prompt.end(), h.begin()))
            << "the history does not start with the tokens of the rendered prompt";
    }
    if (first.result.end == MOEVK_END_EOG) {
        // The ending EOG is neither counted nor fed.
        size_t streamed = first.tokens.size();
        if (streamed && tok.is_eog(first.tokens.back())) --streamed;
        EXPECT_EQ(first.result.generated_tokens, streamed);
        std::vector<int32_t> h = s.tokens();
        EXPECT_FALSE(!h.empty() && tok.is_eog(h.back())) << "the ending EOG was fed";
    }

    conv.push_back({MOEVK_ROLE_ASSISTANT, first.text});
    conv.push_back({MOEVK_ROLE_USER, "And may I sell copies?"});
    const std::vector<int32_t> full = tok.tokenize(tok.render(conv), MOEVK_TOKENIZE_PARSE_SPECIAL);
    s.feed_chat(conv);
    moevk_generation second = generate(s, 0).result;
    EXPECT_EQ(s.tokens(), full) << "the history is not the tokens of the rendered conversation";
    EXPECT_EQ(s.info().position, full.size());
    EXPECT_GT(second.prompt_tokens, 0u);
    EXPECT_LE(second.prompt_tokens, full.size() - first_prompt.size())
        << "the second turn evaluated part of the first prompt again";

    moevk::Session fresh(demo(), o);
    fresh.feed_chat(conv);
    moevk_generation whole = generate(fresh, 0).result;
    EXPECT_EQ(whole.prompt_tokens, full.size());
    EXPECT_EQ(fresh.tokens(), s.tokens());
    std::span<const float> a = s.logits(), b = fresh.logits();
    ASSERT_EQ(a.size(), size_t(kDemoVocab));
    ASSERT_EQ(b.size(), a.size());
    EXPECT_TRUE(rows_close(a.data(), b.data(), a.size()));
}

// --- eval, truncate, reset
// ------------------------------------------------------------------------

TEST_F(Api, EvalLogitsEqualTokenByToken) {
    const std::vector<int32_t> p = prompt();
    const size_t nv = kDemoVocab;
    moevk::Session a(demo(), session_options(128, 1));
    std::vector<float> rows = a.eval(p, true);
    ASSERT_EQ(rows.size(), p.size() * nv);
    std::span<const float> last = a.logits();
    ASSERT_EQ(last.size(), nv);
    EXPECT_TRUE(std::equal(last.begin(), last.end(), rows.end() - ptrdiff_t(nv)))
        << "get_logits is not the last row";

    moevk::Session b(demo(), session_options(128, 1));
    double worst = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        std::vector<float> row = b.eval(std::span<const int32_t>(&p[i], 1), true);
        ASSERT_EQ(row.size(), nv);
        EXPECT_TRUE(rows_close(rows.data() + i * nv, row.data(), nv)) << "position " << i;
        double diff = 0, scale = 0;
        for (size_t v = 0; v < nv; ++v) {
            diff = std::max(diff, double(std::fabs(rows[i * nv + v] - row[v])));
            scale = std::max(scale, double(std::fabs(row[v])));
        }
        worst = std::max(worst, diff / scale);
    }
    std::printf("batch vs token-by-token logits: max |diff| / scale %.3g (bound 1e-4)\n", worst);
    EXPECT_EQ(a.tokens(), p);
    EXPECT_EQ(b.tokens(), p);
}

TEST_F(Api, TruncateKeepsAPrefixAndResetForgetsEverything) {
    const std::vector<int32_t> p = prompt();
    const size_t nv = kDemoVocab;
    ASSERT_GT(p.size(), 8u);
    moevk::Session s(demo(), session_options(128, 1));
    std::vector<float> full = s.eval(p, true);

    s.truncate(5);
    EXPECT_EQ(s.tokens(), std::vector<int32_t>(p.begin(), p.begin() + 5));
    EXPECT_EQ(s.info().position, 5u);
    std::vector<float> tail = s.eval(std::span<const int32_t>(p).subspan(5), true);
    for (size_t i = 5; i < p.size(); ++i)
        EXPECT_TRUE(rows_close(tail.data() + (i - 5) * nv, full.data() + i * nv, nv))
            << "position " << i;
    EXPECT_EQ(s.tokens(), p);

    // Truncating drops pending input too.
    s.feed(std::span<const int32_t>(p).first(3));
    EXPECT_EQ(s.info().pending, 3u);
    s.truncate(s.info().position);
    EXPECT_EQ(s.info().pending, 0u);
    EXPECT_EQ(s.tokens(), p);

    s.feed(std::span<const int32_t>(p).first(2));
    s.reset();
    EXPECT_TRUE(s.tokens().empty());
    EXPECT_EQ(s.info().position, 0u);
    EXPECT_EQ(s.info().pending, 0u);
    // The same input on the same path again: the same bits.
    std::vector<float> again = s.eval(p, true);
    EXPECT_TRUE(again == full) << "eval after reset() differs from the first eval";
}

TEST_F(Api, NothingToReadBeforeTheFirstEval) {
    moevk::Session s(demo(), session_options(64, 1));
    expect_exception([&] { s.logits(); }, MOEVK_ERROR_INVALID_ARGUMENT);
    expect_exception([&] { s.sample(); }, MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_TRUE(s.tokens().empty());
    // The first eval with all logits sizes its rows from session_info's n_vocab.
    const std::vector<int32_t> p = prompt();
    EXPECT_EQ(s.info().n_vocab, kDemoVocab);
    EXPECT_EQ(s.eval(p, true).size(), p.size() * kDemoVocab);
    EXPECT_EQ(s.tokens(), p);
}

TEST_F(Api, SessionWrappersThrowForBadInput) {
    moevk::Session s(demo(), session_options(64, 1));
    const int32_t bad[] = {int32_t(kDemoVocab) + 7};
    expect_exception([&] { s.feed(bad); }, MOEVK_ERROR_INVALID_ARGUMENT,
                     {std::to_string(kDemoVocab + 7)});
    expect_exception([&] { s.eval(bad); }, MOEVK_ERROR_INVALID_ARGUMENT,
                     {std::to_string(kDemoVocab + 7)});
    moevk_sampling bad_sampling = moevk_sampling_default();
    bad_sampling.min_p = -0.5f;
    expect_exception([&] { s.set_sampling(bad_sampling); }, MOEVK_ERROR_INVALID_ARGUMENT,
                     {"min_p"});
    // Nothing fed, nothing evaluated: no logits to sample the first token from (as sample()).
    moevk::Generate four;
    four.max_tokens = 4;
    expect_exception([&] { s.generate(four); }, MOEVK_ERROR_INVALID_ARGUMENT);
    expect_exception([&] { s.start(four); }, MOEVK_ERROR_INVALID_ARGUMENT);
    expect_exception([&] { s.layer_stats(kDemoLayers); }, MOEVK_ERROR_INVALID_ARGUMENT,
                     {std::to_string(kDemoLayers)});
    // Still usable.
    s.feed(prompt());
    EXPECT_EQ(generate(s, 2).tokens.size(), 2u);
}

// --- threads
// --------------------------------------------------------------------------------------

TEST_F(Api, TwoEnginesGenerateOnTwoThreads) {
    moevk::Engine other(validated_options());
    moevk::Model other_model(other, kDemo);
    moevk::Tokenizer tok = tokenizer();
    const std::vector<int32_t> p1 = tok.tokenize(kPrompt, 0);
    const std::vector<int32_t> p2 = tok.tokenize("Everyone is permitted to copy and distribute", 0);
    const std::vector<int32_t> solo1 = generated_tokens(demo(), p1, 11, 32);
    const std::vector<int32_t> solo2 = generated_tokens(other_model, p2, 22, 32);
    ASSERT_EQ(solo1.size(), 32u);
    ASSERT_EQ(solo2.size(), 32u);

    std::vector<int32_t> got1, got2;
    std::string error1, error2;
    auto run = [](const moevk::Model& m, const std::vector<int32_t>& p, uint64_t seed,
                  std::vector<int32_t>& out, std::string& error) {
        try {
            out = generated_tokens(m, p, seed, 32);
        } catch (const std::exception& e) {
            error = e.what();
        }
    };
    std::thread t1(run, std::cref(demo()), std::cref(p1), 11, std::ref(got1), std::ref(error1));
    std::thread t2(run, std::cref(other_model), std::cref(p2), 22, std::ref(got2),
                   std::ref(error2));
    t1.join();
    t2.join();
    EXPECT_EQ(error1, "");
    EXPECT_EQ(error2, "");
    EXPECT_EQ(got1, solo1) << "engine 1 on its thread";
    EXPECT_EQ(got2, solo2) << "engine 2 on its thread";
}

// --- a host-owned device
// --------------------------------------------------------------------------

// The loader entry point the engine is given: it counts requests for and calls of the two
// functions an engine on a host's device must never call, and forwards everything else.
namespace counting {
std::atomic<int> lookups{0}, create_instance_requests{0}, create_instance_calls{0},
    create_device_requests{0}, create_device_calls{0};
std::atomic<VkInstance> instance{VK_NULL_HANDLE};

void reset() {
    lookups = create_instance_requests = create_instance_calls = create_device_requests =
        create_device_calls = 0;
}

VKAPI_ATTR VkResult VKAPI_CALL create_instance(const VkInstanceCreateInfo* info,
                                               const VkAllocationCallbacks* alloc,
                                               VkInstance* out) {
    ++create_instance_calls;
    auto real = reinterpret_cast<PFN_vkCreateInstance>(
        vkGetInstanceProcAddr(VK_NULL_HANDLE, "vkCreateInstance"));
    return real(info, alloc, out);
}

VKAPI_ATTR VkResult VKAPI_CALL create_device(VkPhysicalDevice physical,
                                             const VkDeviceCreateInfo* info,
                                             const VkAllocationCallbacks* alloc, VkDevice* out) {
    ++create_device_calls;
    auto real = reinterpret_cast<PFN_vkCreateDevice>(
        vkGetInstanceProcAddr(instance.load(), "vkCreateDevice"));
    return real(physical, info, alloc, out);
}

VKAPI_ATTR PFN_vkVoidFunction VKAPI_CALL get_instance_proc_addr(VkInstance inst, const char* name) {
    ++lookups;
    if (!name) return nullptr;
    if (std::strcmp(name, "vkCreateInstance") == 0) {
        ++create_instance_requests;
        return reinterpret_cast<PFN_vkVoidFunction>(create_instance);
    }
    if (std::strcmp(name, "vkCreateDevice") == 0) {
        ++create_device_requests;
        return reinterpret_cast<PFN_vkVoidFunction>(create_device);
    }
    if (std::strcmp(name, "vkGetInstanceProcAddr") == 0)
        return reinterpret_cast<PFN_vkVoidFunction>(get_instance_proc_addr);
    return vkGetInstanceProcAddr(inst, name);
}
}  // namespace counting

VKAPI_ATTR VkBool32 VKAPI_CALL on_host_message(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                               VkDebugUtilsMessageTypeFlagsEXT,
                                               const VkDebugUtilsMessengerCallbackDataEXT* data,
                                               void* user) {
    static_cast<MessageLog*>(user)->add(data && data->pMessage ? data->pMessage : "(empty)");
    return VK_FALSE;
}

// What a game owns: an instance with the validation layer and a messenger of its own, a device
// with exactly what moevk_vulkan.h asks for, and a compute queue. Torn down in reverse order even
// when an assertion ends the test early.
struct HostVulkan {
    MessageLog messages;
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
    VkPhysicalDevice physical = VK_NULL_HANDLE;
    VkDevice device = VK_NULL_HANDLE;
    VkQueue queue = VK_NULL_HANDLE;
    uint32_t family = 0;
    std::string device_name;

    VkDebugUtilsMessengerCreateInfoEXT messenger_info() {
        VkDebugUtilsMessengerCreateInfoEXT info{};
        info.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT;
        info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
        info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
        info.pfnUserCallback = on_host_message;
        info.pUserData = &messages;
        return info;
    }

    // On the device named `name` (the shared engine's), so that the runs compare on one device.
    // `library_features`: the features through moevk_host_device_enable_features, else by hand.
    void create(const std::string& name, bool library_features = false) {
        uint32_t n_layers = 0;
        vkEnumerateInstanceLayerProperties(&n_layers, nullptr);
        std::vector<VkLayerProperties> layers(n_layers);
        vkEnumerateInstanceLayerProperties(&n_layers, layers.data());
        ASSERT_TRUE(std::any_of(layers.begin(), layers.end(), [](const VkLayerProperties& l) {
            return std::strcmp(l.layerName, "VK_LAYER_KHRONOS_validation") == 0;
        })) << "VK_LAYER_KHRONOS_validation is not installed";

        VkApplicationInfo app{};
        app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
        app.pApplicationName = "moe-vk API host test";
        app.apiVersion = VK_API_VERSION_1_2;
        const char* layer = "VK_LAYER_KHRONOS_validation";
        const char* extension = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        // Chained, the messenger also hears instance creation and destruction.
        VkDebugUtilsMessengerCreateInfoEXT chained = messenger_info();
        VkInstanceCreateInfo info{};
        info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
        info.pNext = &chained;
        info.pApplicationInfo = &app;
        info.enabledLayerCount = 1;
        info.ppEnabledLayerNames = &layer;
        info.enabledExtensionCount = 1;
        info.ppEnabledExtensionNames = &extension;
        ASSERT_EQ(vkCreateInstance(&info, nullptr, &instance), VK_SUCCESS);
        counting::instance = instance;
        auto create_messenger = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance, "vkCreateDebugUtilsMessengerEXT"));
        ASSERT_NE(create_messenger, nullptr);
        VkDebugUtilsMessengerCreateInfoEXT standing = messenger_info();
        ASSERT_EQ(create_messenger(instance, &standing, nullptr, &messenger), VK_SUCCESS);

        uint32_t count = 0;
        ASSERT_EQ(vkEnumeratePhysicalDevices(instance, &count, nullptr), VK_SUCCESS);
        std::vector<VkPhysicalDevice> physicals(count);
        ASSERT_EQ(vkEnumeratePhysicalDevices(instance, &count, physicals.data()), VK_SUCCESS);
        for (VkPhysicalDevice p : physicals) {
            VkPhysicalDeviceProperties props;
            vkGetPhysicalDeviceProperties(p, &props);
            if (name == props.deviceName) {
                physical = p;
                device_name = props.deviceName;
            }
        }
        ASSERT_NE(physical, VK_NULL_HANDLE) << "the loader offers no device named " << name;

        VkPhysicalDeviceVulkan12Features supported{};
        supported.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
        VkPhysicalDeviceFeatures2 features2{};
        features2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2;
        features2.pNext = &supported;
        vkGetPhysicalDeviceFeatures2(physical, &features2);
        ASSERT_TRUE(supported.bufferDeviceAddress && supported.timelineSemaphore);

        uint32_t n_families = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &n_families, nullptr);
        std::vector<VkQueueFamilyProperties> families(n_families);
        vkGetPhysicalDeviceQueueFamilyProperties(physical, &n_families, families.data());
        auto compute = std::find_if(
            families.begin(), families.end(),
            [](const VkQueueFamilyProperties& f) { return f.queueFlags & VK_QUEUE_COMPUTE_BIT; });
        ASSERT_NE(compute, families.end());
        family = uint32_t(compute - families.begin());

        float priority = 1.0f;
        VkDeviceQueueCreateInfo queue_info{};
        queue_info.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO;
        queue_info.queueFamilyIndex = family;
        queue_info.queueCount = 1;
        queue_info.pQueuePriorities = &priority;
        // Exactly what moevk_vulkan.h asks for, nothing more.
        VkPhysicalDeviceVulkan12Features v12{};
        v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES;
        if (library_features) {
            moevk_host_device_enable_features(&v12);
            ASSERT_TRUE(v12.bufferDeviceAddress && v12.timelineSemaphore);
        } else {
            v12.bufferDeviceAddress = VK_TRUE;
            v12.timelineSemaphore = VK_TRUE;
        }
        VkDeviceCreateInfo device_info{};
        device_info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO;
        device_info.pNext = &v12;
        device_info.queueCreateInfoCount = 1;
        device_info.pQueueCreateInfos = &queue_info;
        ASSERT_EQ(vkCreateDevice(physical, &device_info, nullptr, &device), VK_SUCCESS);
        vkGetDeviceQueue(device, family, 0, &queue);
        ASSERT_NE(queue, VK_NULL_HANDLE);
    }

    moevk_host_device description() const {
        moevk_host_device d = moevk_host_device_default();
        d.get_instance_proc_addr = counting::get_instance_proc_addr;
        d.instance = instance;
        d.physical_device = physical;
        d.device = device;
        d.queue_family = family;
        d.queue_index = 0;
        return d;
    }

    // The host goes on using its device: one empty command buffer through the queue.
    void submit_empty() {
        VkCommandPoolCreateInfo pool_info{};
        pool_info.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
        pool_info.queueFamilyIndex = family;
        VkCommandPool pool = VK_NULL_HANDLE;
        ASSERT_EQ(vkCreateCommandPool(device, &pool_info, nullptr, &pool), VK_SUCCESS);
        VkCommandBufferAllocateInfo alloc{};
        alloc.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
        alloc.commandPool = pool;
        alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        alloc.commandBufferCount = 1;
        VkCommandBuffer cb = VK_NULL_HANDLE;
        EXPECT_EQ(vkAllocateCommandBuffers(device, &alloc, &cb), VK_SUCCESS);
        VkCommandBufferBeginInfo begin{};
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
        EXPECT_EQ(vkBeginCommandBuffer(cb, &begin), VK_SUCCESS);
        EXPECT_EQ(vkEndCommandBuffer(cb), VK_SUCCESS);
        VkSubmitInfo submit{};
        submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
        submit.commandBufferCount = 1;
        submit.pCommandBuffers = &cb;
        EXPECT_EQ(vkQueueSubmit(queue, 1, &submit, VK_NULL_HANDLE), VK_SUCCESS);
        EXPECT_EQ(vkQueueWaitIdle(queue), VK_SUCCESS);
        vkDestroyCommandPool(device, pool, nullptr);
    }

    // Destroys the device, the messenger and the instance; what the layer said fails the test.
    void destroy() {
        if (device) {
            vkDeviceWaitIdle(device);
            vkDestroyDevice(device, nullptr);
            device = VK_NULL_HANDLE;
        }
        if (messenger) {
            auto destroy_messenger = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
                vkGetInstanceProcAddr(instance, "vkDestroyDebugUtilsMessengerEXT"));
            destroy_messenger(instance, messenger, nullptr);
            messenger = VK_NULL_HANDLE;
        }
        if (instance) {
            vkDestroyInstance(instance, nullptr);
            instance = VK_NULL_HANDLE;
            counting::instance = VK_NULL_HANDLE;
        }
        for (const std::string& m : messages.take())
            ADD_FAILURE() << "host validation layer: " << m;
    }
    ~HostVulkan() { destroy(); }
};

TEST_F(Api, HostDeviceRejectsAnIncompleteDescription) {
    moevk_engine* e = nullptr;
    moevk_host_device d = moevk_host_device_default();
    EXPECT_EQ(d.struct_size, sizeof d);
    EXPECT_EQ(moevk_engine_create_on_device(&d, &e), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_STRNE(moevk_last_error(), "");
    d.get_instance_proc_addr = vkGetInstanceProcAddr;  // no instance, no device
    EXPECT_EQ(moevk_engine_create_on_device(&d, &e), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_STRNE(moevk_last_error(), "");
    EXPECT_EQ(e, nullptr);
    EXPECT_EQ(moevk_engine_create_on_device(nullptr, &e), MOEVK_ERROR_INVALID_ARGUMENT);
}

TEST_F(Api, HostDeviceRunsTheModelAndCreatesNoInstanceOrDevice) {
    const std::vector<int32_t> p = prompt();
    const std::vector<int32_t> own = generated_tokens(demo(), p, 77, 16);
    HostVulkan host;
    ASSERT_NO_FATAL_FAILURE(host.create(engine().device_info().name));
    counting::reset();
    {
        moevk_host_device d = host.description();
        moevk_engine* raw = nullptr;
        ASSERT_EQ(moevk_engine_create_on_device(&d, &raw), MOEVK_OK) << moevk_last_error();
        moevk::Engine hosted(raw);
        EXPECT_FALSE(hosted.owns_device());
        EXPECT_EQ(moevk_engine_owns_device(raw), 0);
        EXPECT_EQ(std::string(hosted.device_info().name), host.device_name);
        moevk::Model model(hosted, kDemo);
        EXPECT_EQ(generated_tokens(model, p, 77, 16), own)
            << "the host's device and the engine's own disagree";
    }
    std::printf(
        "host device: %d lookups through the host's entry point; vkCreateInstance requested %d, "
        "called %d; "
        "vkCreateDevice requested %d, called %d\n",
        counting::lookups.load(), counting::create_instance_requests.load(),
        counting::create_instance_calls.load(), counting::create_device_requests.load(),
        counting::create_device_calls.load());
    EXPECT_GT(counting::lookups.load(), 0)
        << "the engine did not reach Vulkan through the entry point it was given";
    EXPECT_EQ(counting::create_instance_calls.load(), 0) << "the engine created a VkInstance";
    EXPECT_EQ(counting::create_device_calls.load(), 0) << "the engine created a VkDevice";

    // The engine is gone: the device is still the host's to use, and destroying it reports any
    // object the engine left behind.
    EXPECT_EQ(vkDeviceWaitIdle(host.device), VK_SUCCESS);
    ASSERT_NO_FATAL_FAILURE(host.submit_empty());
    host.destroy();
}

// The host's side of the queue lock: one mutex the renderer thread and the engine's callbacks
// share, with bookkeeping of who holds it.
struct QueueLock {
    std::mutex mutex;
    VkQueue queue = VK_NULL_HANDLE;
    std::thread::id caller;                // the thread that calls the engine
    std::atomic<std::thread::id> owner{};  // set by the engine's lock callback
    std::atomic<int> locks{0}, unlocks{0}, nested{0}, unpaired{0}, wrong_queue{0}, other_thread{0};
    Clock::time_point since;
    double longest_ms = 0;

    static void lock(void* user, VkQueue q) {
        auto* l = static_cast<QueueLock*>(user);
        if (q != l->queue) ++l->wrong_queue;
        if (std::this_thread::get_id() != l->caller) ++l->other_thread;
        if (l->owner.load() == std::this_thread::get_id()) {
            ++l->nested;  // locking twice would deadlock: count it instead
            return;
        }
        l->mutex.lock();
        l->owner = std::this_thread::get_id();
        l->since = Clock::now();
        ++l->locks;
    }
    static void unlock(void* user, VkQueue q) {
        auto* l = static_cast<QueueLock*>(user);
        if (q != l->queue) ++l->wrong_queue;
        if (l->owner.load() != std::this_thread::get_id()) {
            ++l->unpaired;
            return;
        }
        l->longest_ms =
            std::max(l->longest_ms,
                     std::chrono::duration<double, std::milli>(Clock::now() - l->since).count());
        l->owner = std::thread::id();
        ++l->unlocks;
        l->mutex.unlock();
    }
};

TEST_F(Api, HostDeviceLocksTheSharedQueueAroundItsSubmits) {
    const std::vector<int32_t> p = prompt();
    const std::vector<int32_t> own = generated_tokens(demo(), p, 78, 12);
    HostVulkan host;
    ASSERT_NO_FATAL_FAILURE(host.create(engine().device_info().name, true));
    QueueLock lock;
    lock.queue = host.queue;
    lock.caller = std::this_thread::get_id();

    // A renderer: empty command buffers to the same queue under the same mutex, as fast as the
    // GPU retires them, while the engine generates.
    std::atomic<bool> done{false};
    std::atomic<int> frames{0};
    std::thread renderer([&] {
        VkCommandPoolCreateInfo pool_info{};
        pool_info.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO;
        pool_info.queueFamilyIndex = host.family;
        VkCommandPool pool = VK_NULL_HANDLE;
        if (vkCreateCommandPool(host.device, &pool_info, nullptr, &pool) != VK_SUCCESS) return;
        VkCommandBufferAllocateInfo alloc{};
        alloc.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO;
        alloc.commandPool = pool;
        alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        alloc.commandBufferCount = 1;
        VkCommandBuffer cb = VK_NULL_HANDLE;
        vkAllocateCommandBuffers(host.device, &alloc, &cb);
        VkCommandBufferBeginInfo begin{};
        begin.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO;
        vkBeginCommandBuffer(cb, &begin);
        vkEndCommandBuffer(cb);
        VkFenceCreateInfo fence_info{};
        fence_info.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO;
        VkFence fence = VK_NULL_HANDLE;
        vkCreateFence(host.device, &fence_info, nullptr, &fence);
        VkSubmitInfo submit{};
        submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO;
        submit.commandBufferCount = 1;
        submit.pCommandBuffers = &cb;
        while (!done) {
            // try_lock: an engine that kept the lock must fail the test, not hang it.
            if (!lock.mutex.try_lock()) {
                std::this_thread::sleep_for(std::chrono::microseconds(100));
                continue;
            }
            VkResult r = vkQueueSubmit(host.queue, 1, &submit, fence);
            lock.mutex.unlock();
            if (r != VK_SUCCESS) break;
            vkWaitForFences(host.device, 1, &fence, VK_TRUE, UINT64_MAX);
            vkResetFences(host.device, 1, &fence);
            ++frames;
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        vkDestroyFence(host.device, fence, nullptr);
        vkDestroyCommandPool(host.device, pool, nullptr);
    });

    std::vector<int32_t> generated, stepped;
    int frames_during = 0;
    std::string error;
    try {
        moevk_host_device d = host.description();
        d.lock_queue = QueueLock::lock;
        d.unlock_queue = QueueLock::unlock;
        d.queue_lock_user = &lock;
        moevk_engine* raw = nullptr;
        if (moevk_engine_create_on_device(&d, &raw) != MOEVK_OK)
            throw std::runtime_error(moevk_last_error());
        moevk::Engine hosted(raw);
        moevk::Model model(hosted, kDemo);
        const int frames_before = frames;
        generated = generated_tokens(model, p, 78, 12);
        // The frame-loop mode takes the same lock.
        moevk::Session s(model, session_options(128, 78));
        s.feed(p);
        Streamed run;
        s.start(collecting(run, 6));
        for (int i = 0; i < 100000 && !s.step(3000).done; ++i)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        stepped = run.tokens;
        frames_during = frames - frames_before;
    } catch (const std::exception& e) {
        error = e.what();
    }
    done = true;
    renderer.join();
    ASSERT_EQ(error, "");
    EXPECT_EQ(generated, own);
    EXPECT_EQ(stepped, std::vector<int32_t>(own.begin(), own.begin() + 6));
    std::printf(
        "queue lock: %d pairs, held at most %.2f ms; renderer submitted %d frames meanwhile\n",
        lock.locks.load(), lock.longest_ms, frames_during);
    EXPECT_GT(lock.locks.load(), 0) << "the engine never called lock_queue";
    EXPECT_EQ(lock.locks.load(), lock.unlocks.load()) << "lock and unlock calls are not paired";
    EXPECT_EQ(lock.nested.load(), 0) << "lock_queue called while the engine held the lock";
    EXPECT_EQ(lock.unpaired.load(), 0) << "unlock_queue called without the lock";
    EXPECT_EQ(lock.wrong_queue.load(), 0) << "a callback named another queue";
    EXPECT_EQ(lock.other_thread.load(), 0)
        << "a lock callback ran on a thread other than the caller's";
    EXPECT_GT(frames_during, 0) << "the renderer never got the queue while the engine worked";
    host.destroy();
}

// --- the frame-loop mode
// --------------------------------------------------------------------------

struct StepLog {
    std::vector<double> call_ms;
    bool saw_in_flight = false;
    uint32_t pieces = 0, new_tokens = 0;
    int over_estimate = 0;
    double largest_estimate_us = 0;      // of the steps that submitted several pieces
    double largest_any_estimate_us = 0;  // of all steps
    moevk_step_result last{};
};

// Steps until done, timing every call; between calls the "frame" does 200 us of other work.
StepLog step_until_done(moevk::Session& s, uint32_t budget_us) {
    StepLog log;
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(120);
    while (Clock::now() < deadline) {
        Clock::time_point t0 = Clock::now();
        moevk_step_result r = s.step(budget_us);
        log.call_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        log.saw_in_flight |= r.in_flight != 0;
        log.largest_any_estimate_us = std::max(log.largest_any_estimate_us, r.estimated_gpu_us);
        log.pieces += r.pieces;
        log.new_tokens += r.new_tokens;
        if (r.pieces >= 2) {
            log.largest_estimate_us = std::max(log.largest_estimate_us, r.estimated_gpu_us);
            if (r.estimated_gpu_us > 1.5 * budget_us) ++log.over_estimate;
        }
        log.last = r;
        if (r.done) break;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return log;
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5))];
}

class Step : public Api, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(Step, GivesGeneratesTokensWithoutBlockingPastTheBudget) {
    const uint32_t budget = GetParam();
    const std::vector<int32_t> p = prompt();
    const moevk_session_options o = session_options(128, 314);
    // generate() first: the reference, and every pipeline compiled before the timing starts.
    moevk::Session a(demo(), o);
    a.feed(p);
    Streamed ref = generate(a, 12);

    moevk::Session b(demo(), o);
    b.feed(p);
    Streamed run;
    const std::thread::id caller = std::this_thread::get_id();
    bool other_thread = false;
    moevk::Generate g = collecting(run, 12);
    auto inner = g.on_token;
    g.on_token = [&](int32_t t, std::string_view text) {
        other_thread |= std::this_thread::get_id() != caller;
        return inner(t, text);
    };
    b.start(g);
    StepLog log = step_until_done(b, budget);
    ASSERT_TRUE(log.last.done) << "not done after " << log.call_ms.size() << " steps";

    EXPECT_EQ(run.tokens, ref.tokens)
        << "step " << ids_text(run.tokens) << "\ngenerate " << ids_text(ref.tokens);
    EXPECT_EQ(run.text, ref.text);
    EXPECT_EQ(log.last.end, MOEVK_END_LENGTH);
    EXPECT_EQ(log.new_tokens, 12u);
    EXPECT_FALSE(other_thread) << "the token callback ran on another thread";
    EXPECT_TRUE(log.saw_in_flight) << "no step returned with work in flight";
    EXPECT_GE(log.pieces, 12u) << "fewer pieces than forward steps";
    if (engine().device_info().has_timestamps) {
        EXPECT_GT(log.largest_any_estimate_us, 0.0) << "no cost learned from the GPU timestamps";
    }
    EXPECT_EQ(log.over_estimate, 0)
        << "steps of several pieces estimated past 1.5 x the budget (largest "
        << log.largest_estimate_us << " us)";
    moevk_generation last = b.last_generation();
    EXPECT_EQ(last.end, MOEVK_END_LENGTH);
    EXPECT_EQ(last.generated_tokens, 12u);
    EXPECT_EQ(last.prompt_tokens, p.size());

    // The promise is about blocking: a step returns without waiting for the work it submitted.
    // lavapipe runs that work on the same two cores, so allow 50 ms of scheduling on top.
    const double max_ms = *std::max_element(log.call_ms.begin(), log.call_ms.end());
    std::printf(
        "step(%u us): %zu calls, %u pieces, wall ms p50 %.2f p90 %.2f p99 %.2f max %.2f; largest "
        "estimate of "
        "a multi-piece step %.0f us\n",
        budget, log.call_ms.size(), log.pieces, percentile(log.call_ms, 0.5),
        percentile(log.call_ms, 0.9), percentile(log.call_ms, 0.99), max_ms,
        log.largest_estimate_us);
    EXPECT_LE(max_ms, budget / 1000.0 + 50.0) << "a step blocked far past its budget";
    // The session is free again.
    EXPECT_EQ(generate(b, 2).tokens.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Budgets, Step, ::testing::Values(2000u, 20000u),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                             return std::to_string(info.param) + "us";
                         });

// "Sessions build their shaders when created, so the first calls do not stall on compilation":
// on an engine that has run nothing yet, the first budgeted steps return as quickly.
TEST_F(Api, FirstStepsOnAFreshEngineDoNotStallOnCompilation) {
    const std::vector<int32_t> p = prompt();
    const moevk_session_options o = session_options(128, 314);
    moevk::Engine fresh(validated_options());
    moevk::Model model(fresh, kDemo);
    moevk::Session s(model, o);
    s.feed(p);
    Streamed run;
    s.start(collecting(run, 4));
    StepLog log = step_until_done(s, 2000);
    ASSERT_TRUE(log.last.done);
    const double max_ms = *std::max_element(log.call_ms.begin(), log.call_ms.end());
    std::printf("fresh engine, step(2000 us): %zu calls, first %.2f ms, max %.2f ms\n",
                log.call_ms.size(), log.call_ms.front(), max_ms);
    EXPECT_LE(max_ms, 2.0 + 50.0) << "a first step stalled";
    EXPECT_EQ(run.tokens, generated_tokens(demo(), p, 314, 4));
}

TEST_F(Api, StopEndsAStartedGenerationAndOtherCallsAreBusy) {
    const std::vector<int32_t> p = prompt();
    const moevk_session_options o = session_options(128, 9);
    moevk::Session a(demo(), o);
    a.feed(p);
    const std::vector<int32_t> ref = generate(a, 24).tokens;

    moevk::Session s(demo(), o);
    s.feed(p);
    Streamed run;
    s.start(collecting(run, 24));
    bool done = false;
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(60);
    while (run.tokens.size() < 2 && !done && Clock::now() < deadline) {
        done = s.step(2000).done != 0;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_FALSE(done);
    ASSERT_GE(run.tokens.size(), 2u);

    // While it runs, the other calls that use the session are refused.
    moevk_generate_options go = moevk_generate_options_default();
    go.max_tokens = 1;
    EXPECT_EQ(moevk_session_generate(s.get(), &go, nullptr), MOEVK_ERROR_BUSY);
    EXPECT_STRNE(moevk_last_error(), "");
    EXPECT_EQ(moevk_session_eval(s.get(), nullptr, 0, nullptr), MOEVK_ERROR_BUSY);
    EXPECT_STRNE(moevk_last_error(), "");
    EXPECT_EQ(moevk_session_feed_tokens(s.get(), p.data(), 1), MOEVK_ERROR_BUSY);
    EXPECT_STRNE(moevk_last_error(), "");
    expect_exception([&] { s.generate(moevk::Generate{}); }, MOEVK_ERROR_BUSY);
    expect_exception([&] { s.eval(p); }, MOEVK_ERROR_BUSY);
    expect_exception([&] { s.feed(p); }, MOEVK_ERROR_BUSY);

    // ... and the generation goes on after them, then stops.
    s.step(2000);
    s.stop();
    EXPECT_EQ(s.last_generation().end, MOEVK_END_STOPPED);
    ASSERT_LE(run.tokens.size(), ref.size());
    EXPECT_TRUE(std::equal(run.tokens.begin(), run.tokens.end(), ref.begin()))
        << "the tokens before stop()";
    // The tokens so far stay.
    EXPECT_EQ(s.info().position + s.info().pending, p.size() + run.tokens.size());
    std::vector<int32_t> h = s.tokens();
    ASSERT_GE(h.size(), p.size());
    ASSERT_LE(h.size(), p.size() + run.tokens.size());
    EXPECT_TRUE(std::equal(p.begin(), p.end(), h.begin()));
    EXPECT_TRUE(std::equal(h.begin() + ptrdiff_t(p.size()), h.end(), run.tokens.begin()));
    // Free again.
    EXPECT_EQ(generate(s, 2).tokens.size(), 2u);
}

// --- continuous batching
// -------------------------------------------------------------------------

TEST_F(Api, BatchStepsGiveEachSessionItsOwnGeneration) {
    const std::vector<int32_t> base = prompt();
    struct Plan {
        std::vector<int32_t> prompt;
        uint64_t seed;
        uint32_t max_tokens;
        std::vector<std::string> stops;
    };
    std::vector<Plan> plans;
    for (uint32_t i = 0; i < 4; ++i) {
        std::vector<int32_t> p(base.begin(), base.begin() + ptrdiff_t(base.size() - i));  // other lengths
        plans.push_back({p, 500 + i, 10 + 3 * i, {}});
    }
    plans[2].stops = {"e"};  // ends early on a stop string
    std::vector<Streamed> alone;
    std::vector<std::unique_ptr<moevk::Session>> alone_sessions;
    for (const Plan& plan : plans) {
        alone_sessions.push_back(std::make_unique<moevk::Session>(demo(), session_options(128, plan.seed)));
        alone_sessions.back()->feed(plan.prompt);
        alone.push_back(generate(*alone_sessions.back(), plan.max_tokens, true, plan.stops));
    }

    moevk::Batch batch(demo(), 4);
    std::vector<std::unique_ptr<moevk::Session>> sessions;
    std::vector<Streamed> together(plans.size());
    std::vector<moevk::Session*> all;
    for (size_t i = 0; i < plans.size(); ++i) {
        sessions.push_back(std::make_unique<moevk::Session>(demo(), session_options(128, plans[i].seed)));
        sessions[i]->feed(plans[i].prompt);
        sessions[i]->start(collecting(together[i], plans[i].max_tokens, true, plans[i].stops));
        all.push_back(sessions[i].get());
    }
    std::vector<bool> done(plans.size(), false);
    for (int call = 0; std::count(done.begin(), done.end(), true) < ptrdiff_t(plans.size()); ++call) {
        ASSERT_LT(call, 100);
        std::vector<moevk_step_result> r = batch.step(all);
        ASSERT_EQ(r.size(), plans.size());
        for (size_t i = 0; i < plans.size(); ++i) {
            if (done[i]) {
                EXPECT_TRUE(r[i].done) << "a session that ended stays done";
                EXPECT_EQ(r[i].new_tokens, 0u);
            }
            done[i] = r[i].done != 0;
        }
    }
    for (size_t i = 0; i < plans.size(); ++i) {
        EXPECT_EQ(together[i].tokens, alone[i].tokens) << "session " << i;
        EXPECT_EQ(together[i].text, alone[i].text) << "session " << i;
        moevk_generation g = sessions[i]->last_generation();
        EXPECT_EQ(g.end, i == 2 ? MOEVK_END_STOP_STRING : MOEVK_END_LENGTH) << "session " << i;
        EXPECT_EQ(g.generated_tokens, alone[i].result.generated_tokens);
        moevk_model_info info = demo().info();
        EXPECT_EQ(sessions[i]->expert_counts(info.n_layers, info.n_experts),
                  alone_sessions[i]->expert_counts(info.n_layers, info.n_experts))
            << "session " << i << ": the batched steps record the experts each token chose";
    }
    EXPECT_LT(alone[2].tokens.size(), plans[2].max_tokens) << "the stop string ended it early";
}

TEST_F(Api, BatchStepRefusesBadInputAndMovesNothing) {
    expect_exception([&] { moevk::Batch(demo(), 0); }, MOEVK_ERROR_INVALID_ARGUMENT);
    moevk_batch* raw = nullptr;
    EXPECT_EQ(moevk_batch_create(nullptr, 2, &raw), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(raw, nullptr);
    moevk::Batch batch(demo(), 2);
    moevk::Session a(demo(), session_options(128, 1));
    moevk::Session b(demo(), session_options(128, 2));
    a.feed(prompt());
    a.start(moevk::Generate{.max_tokens = 4});
    moevk_step_result results[3] = {};
    for (auto& r : results) r.struct_size = sizeof(moevk_step_result);
    moevk_session* twice[] = {a.get(), a.get()};
    EXPECT_EQ(moevk_batch_step(batch.get(), twice, 2, results), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(moevk_last_error()).find("same session"), std::string::npos) << moevk_last_error();
    moevk_session* with_null[] = {a.get(), nullptr};
    EXPECT_EQ(moevk_batch_step(batch.get(), with_null, 2, results), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(moevk_batch_step(batch.get(), twice, 0, results), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(moevk_batch_step(batch.get(), twice, 1, nullptr), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(moevk_batch_step(nullptr, twice, 1, results), MOEVK_ERROR_INVALID_ARGUMENT);
    results[0].struct_size = 0;
    EXPECT_EQ(moevk_batch_step(batch.get(), twice, 1, results), MOEVK_ERROR_INVALID_ARGUMENT);
    results[0].struct_size = sizeof(moevk_step_result);
    EXPECT_EQ(a.info().position, 0u) << "nothing ran";

    // Another model's session is refused by name; a session without a generation reports done.
    moevk::Model other(engine(), kDemo);
    moevk::Session c(other, session_options(128, 3));
    c.feed(prompt());
    c.start(moevk::Generate{.max_tokens = 2});
    moevk_session* mixed[] = {a.get(), c.get()};
    EXPECT_EQ(moevk_batch_step(batch.get(), mixed, 2, results), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(moevk_last_error()).find("another model"), std::string::npos) << moevk_last_error();
    c.stop();
    moevk_session* idle[] = {a.get(), b.get()};
    ASSERT_EQ(moevk_batch_step(batch.get(), idle, 2, results), MOEVK_OK) << moevk_last_error();
    EXPECT_FALSE(results[0].done);
    EXPECT_TRUE(results[1].done);
    EXPECT_EQ(results[1].new_tokens, 0u);
    a.stop();
}

// --- statistics and paging
// ------------------------------------------------------------------------

TEST_F(Api, StatsCountTokensAndExperts) {
    const std::vector<int32_t> p = prompt();
    moevk::Session s(demo(), session_options(128, 2));
    s.feed(p);
    Streamed run = generate(s, 8);
    moevk_session_stats st = s.stats();
    EXPECT_EQ(st.prompt_tokens, p.size());
    EXPECT_EQ(st.generated_tokens, run.result.generated_tokens);
    EXPECT_GT(st.prompt_seconds, 0.0);
    EXPECT_GT(st.generate_seconds, 0.0);
    EXPECT_EQ(st.expert_misses, 0u) << "misses without paging";

    // Every evaluated token went to top_k experts of each layer.
    const uint32_t evaluated = s.info().position;
    std::vector<uint64_t> counts = s.expert_counts(kDemoLayers, kDemoExperts);
    for (uint32_t l = 0; l < kDemoLayers; ++l) {
        uint64_t sum = std::accumulate(counts.begin() + l * kDemoExperts,
                                       counts.begin() + (l + 1) * kDemoExperts, uint64_t(0));
        EXPECT_EQ(sum, uint64_t(evaluated) * kDemoTopK) << "layer " << l;
    }
    uint32_t tokens = 0;
    std::vector<uint32_t> last = s.last_experts(kDemoLayers, kDemoTopK, 64, tokens);
    EXPECT_EQ(tokens, 1u) << "the last forward step was one token of generation";

    // One prompt batch: the selections of its tokens, and the counts are their histogram.
    moevk::Session b(demo(), session_options(128, 2));
    b.eval(p);
    std::vector<uint32_t> ids = b.last_experts(kDemoLayers, kDemoTopK, 64, tokens);
    ASSERT_EQ(tokens, p.size());
    ASSERT_EQ(ids.size(), size_t(kDemoLayers) * tokens * kDemoTopK);
    std::vector<uint64_t> histogram(size_t(kDemoLayers) * kDemoExperts, 0);
    for (uint32_t l = 0; l < kDemoLayers; ++l)
        for (uint32_t t = 0; t < tokens; ++t) {
            const uint32_t* k = &ids[(size_t(l) * tokens + t) * kDemoTopK];
            for (uint32_t j = 0; j < kDemoTopK; ++j) {
                ASSERT_LT(k[j], kDemoExperts) << "layer " << l << " token " << t;
                for (uint32_t i = 0; i < j; ++i)
                    EXPECT_NE(k[i], k[j]) << "layer " << l << " token " << t;
                ++histogram[size_t(l) * kDemoExperts + k[j]];
            }
        }
    EXPECT_EQ(b.expert_counts(kDemoLayers, kDemoExperts), histogram);

    s.reset_stats();
    st = s.stats();
    EXPECT_EQ(st.prompt_tokens, 0u);
    EXPECT_EQ(st.generated_tokens, 0u);
    counts = s.expert_counts(kDemoLayers, kDemoExperts);
    EXPECT_TRUE(std::all_of(counts.begin(), counts.end(), [](uint64_t c) { return c == 0; }));
}

// session_info.device_bytes is "the plan's device memory: resident weights, cache, slots", the
// same parts the budget covers (moevk_model_options.vram_budget: "the device memory each session
// may use, the resident weights included"). A session with a longer context has a larger KV
// cache, paged or not.
TEST_F(Api, SessionDeviceBytesCountTheSessionsOwnMemory) {
    moevk_model_options mo = moevk_model_options_default();
    mo.vram_budget = "50%";
    moevk::Model paged(engine(), kDemo, mo);
    for (const moevk::Model* m : {&demo(), &paged}) {
        SCOPED_TRACE(m == &demo() ? "all resident" : "paged");
        moevk::Session small(*m, session_options(64, 1)), large(*m, session_options(4096, 1));
        const uint64_t weights = m->info().device_bytes;
        const uint64_t a = small.info().device_bytes, b = large.info().device_bytes;
        // K and V, f32, per layer: 4032 more positions x n_kv_heads (2) x 128.
        const uint64_t kv_difference = uint64_t(4096 - 64) * 2 * 128 * 4 * 2 * kDemoLayers;
        EXPECT_GT(a, weights) << "the session's own buffers are not counted";
        EXPECT_GE(b, a + kv_difference)
            << "n_ctx 64: " << a << " bytes, n_ctx 4096: " << b << " bytes";
    }
}

TEST_F(Api, PagedExpertsGiveTheSameTokensAndCountMisses) {
    moevk_model_options mo = moevk_model_options_default();
    mo.vram_budget = "50%";
    moevk::Model paged(engine(), kDemo, mo);
    EXPECT_EQ(paged.info().experts_paged, 1);
    const std::vector<int32_t> p = prompt();
    const moevk_session_options o = session_options(128, 5);

    moevk::Session ps(paged, o), rs(demo(), o);
    moevk_session_info info = ps.info();
    EXPECT_EQ(info.paged, 1);
    EXPECT_EQ(info.total_experts, kDemoLayers * kDemoExperts);
    EXPECT_EQ(info.expert_slots, kDemoLayers * kDemoExperts / 2) << "50% of the experts";
    EXPECT_STRNE(info.plan, "");
    EXPECT_EQ(rs.info().paged, 0);

    // Bit-identical logits (docs/ARCHITECTURE.md, "Bit-identical logits"), then the same tokens.
    std::vector<float> lp = ps.eval(p, true), lr = rs.eval(p, true);
    EXPECT_TRUE(lp == lr) << "paged and resident prompt logits differ";
    std::vector<int32_t> tp = generate(ps, 12).tokens, tr = generate(rs, 12).tokens;
    EXPECT_EQ(tp, tr);

    moevk_session_stats st = ps.stats();
    EXPECT_GT(st.expert_misses, 0u);
    EXPECT_GT(st.bytes_uploaded, 0u);
    uint64_t hits = 0, misses = 0;
    for (uint32_t l = 0; l < kDemoLayers; ++l) {
        moevk_layer_stats ls = ps.layer_stats(l);
        hits += ls.hits;
        misses += ls.misses;
    }
    EXPECT_EQ(hits, st.expert_hits);
    EXPECT_EQ(misses, st.expert_misses);
    std::string report = ps.paging_report();
    EXPECT_FALSE(report.empty());
    EXPECT_GE(std::count(report.begin(), report.end(), '\n'), ptrdiff_t(kDemoLayers)) << report;

    // The frame-loop mode on a paged session: the same tokens too.
    moevk::Session steps(paged, o);
    steps.feed(p);
    Streamed run;
    steps.start(collecting(run, 6));
    StepLog log = step_until_done(steps, 2000);
    EXPECT_TRUE(log.last.done);
    moevk::Session ref(demo(), o);
    ref.feed(p);
    EXPECT_EQ(run.tokens, generate(ref, 6).tokens);
}

// --- tokenizers
// -----------------------------------------------------------------------------------

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

struct VocabCase {
    std::string text;
    std::vector<int32_t> ids;
};

// `<vocab>.inp`: texts separated by "\n__ggml_vocab_test__\n"; `<vocab>.out`: llama.cpp's ids,
// one line per text (see the fixtures' README).
std::vector<VocabCase> load_cases(const fs::path& vocab) {
    const std::string inp = read_file(vocab.string() + ".inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<VocabCase> cases;
    for (size_t pos = 0; pos < inp.size();) {
        size_t end = inp.find(sep, pos);
        if (end == std::string::npos) end = inp.size();
        cases.push_back({inp.substr(pos, end - pos), {}});
        pos = end + sep.size();
    }
    std::istringstream out(read_file(vocab.string() + ".out"));
    std::string line;
    for (VocabCase& c : cases) {
        if (!std::getline(out, line)) break;
        std::istringstream ids(line);
        for (int32_t id; ids >> id;) c.ids.push_back(id);
    }
    return cases;
}

class VocabFixture : public Api, public ::testing::WithParamInterface<std::string> {
  protected:
    fs::path path() const { return kFixtures / "vocab" / ("ggml-vocab-" + GetParam() + ".gguf"); }
};

TEST_P(VocabFixture, TokenizesAsLlamaCppAndRoundTrips) {
    if (!fs::exists(path())) GTEST_SKIP() << "no fixture at " << path();
    moevk::Tokenizer tok = moevk::Tokenizer::load(path().string());
    moevk_vocab_info info = tok.info();
    const std::vector<VocabCase> cases = load_cases(path());
    ASSERT_GT(cases.size(), 20u);
    size_t failed = 0;
    for (const VocabCase& c : cases) {
        std::vector<int32_t> ids = tok.tokenize(c.text, 0);
        if (ids != c.ids && ++failed <= 5)
            ADD_FAILURE() << GetParam() << ": \"" << c.text
                          << "\"\n  llama.cpp: " << ids_text(c.ids)
                          << "\n  moe-vk:    " << ids_text(ids);
        // Decoding gives the text back (SentencePiece's added leading space is dropped again).
        EXPECT_EQ(tok.detokenize(ids), c.text) << GetParam();
        if (std::string(info.kind) == "gpt2") {
            // Byte-level BPE: the pieces are the bytes of the text.
            std::string pieces;
            for (int32_t id : ids) pieces += tok.piece(id);
            EXPECT_EQ(pieces, c.text) << GetParam();
        }
    }
    EXPECT_EQ(failed, 0u) << "of " << cases.size() << " texts";
}

TEST_P(VocabFixture, DescribesTheVocabulary) {
    if (!fs::exists(path())) GTEST_SKIP() << "no fixture at " << path();
    moevk::Tokenizer tok = moevk::Tokenizer::load(path().string());
    moevk_vocab_info info = tok.info();
    // What these models' tokenizers are known to be.
    if (GetParam() == "llama-spm") {
        EXPECT_STREQ(info.kind, "llama");
        EXPECT_EQ(info.n_vocab, 32000u);
        EXPECT_EQ(info.bos, 1);
        EXPECT_EQ(info.eos, 2);
        EXPECT_EQ(info.add_bos, 1);
    } else if (GetParam() == "gpt-2") {
        EXPECT_STREQ(info.kind, "gpt2");
        EXPECT_EQ(info.n_vocab, 50257u);
        EXPECT_EQ(info.eos, 50256);
    } else if (GetParam() == "phi-3") {
        EXPECT_STREQ(info.kind, "llama");
        EXPECT_EQ(info.bos, 1);
    } else if (GetParam() == "deepseek-llm") {
        EXPECT_STREQ(info.kind, "gpt2");
    }
    ASSERT_GE(info.eos, 0);
    EXPECT_TRUE(tok.is_eog(info.eos));
    EXPECT_FALSE(tok.is_eog(-1));
    EXPECT_FALSE(tok.is_eog(int32_t(info.n_vocab)));
    std::vector<int32_t> word = tok.tokenize("hello", 0);
    ASSERT_FALSE(word.empty());
    EXPECT_FALSE(tok.is_eog(word[0]));
    // BOS where the vocabulary asks for it.
    std::vector<int32_t> with = tok.tokenize("hello", MOEVK_TOKENIZE_DEFAULT_BOS);
    EXPECT_EQ(with.size(), word.size() + (info.add_bos ? 1 : 0));
    if (info.add_bos) {
        EXPECT_EQ(with[0], info.bos);
    }
    // Without a recognised template the reason is given.
    if (info.chat_template[0] == '\0') {
        EXPECT_STRNE(info.template_error, "");
    }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, VocabFixture,
                         ::testing::Values("llama-spm", "gpt-2", "phi-3", "deepseek-llm"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

TEST_F(Api, Phi3TemplateAndEndOfTurn) {
    const fs::path path = kFixtures / "vocab" / "ggml-vocab-phi-3.gguf";
    if (!fs::exists(path)) GTEST_SKIP() << "no fixture at " << path;
    moevk::Tokenizer tok = moevk::Tokenizer::load(path.string());
    ASSERT_STRNE(tok.info().chat_template, "") << tok.info().template_error;
    // Phi-3's format: <|user|>\n...<|end|>\n<|assistant|>\n
    std::string text = tok.render({{MOEVK_ROLE_USER, "Hi there"}});
    EXPECT_TRUE(contains(text, "<|user|>")) << text;
    EXPECT_TRUE(contains(text, "Hi there<|end|>")) << text;
    EXPECT_TRUE(text.size() >= 14 && text.substr(text.size() - 14) == "<|assistant|>\n") << text;
    std::vector<int32_t> end = tok.tokenize("<|end|>", MOEVK_TOKENIZE_PARSE_SPECIAL);
    ASSERT_EQ(end.size(), 1u);
    EXPECT_TRUE(tok.is_eog(end[0])) << "Phi-3's end of turn does not end generation";
}

TEST_F(Api, DetokenizerStreamsMultiByteCharacters) {
    const fs::path gpt2 = kFixtures / "vocab" / "ggml-vocab-gpt-2.gguf";
    std::vector<std::pair<std::string, moevk::Tokenizer>> tokenizers;
    tokenizers.emplace_back("demo", tokenizer());
    if (fs::exists(gpt2)) tokenizers.emplace_back("gpt-2", moevk::Tokenizer::load(gpt2.string()));
    const std::string text =
        "na\xC3\xAFve \xE2\x82\xAC 5, \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x8E\x89!";
    for (auto& [name, tok] : tokenizers) {
        SCOPED_TRACE(name);
        std::vector<int32_t> ids = tok.tokenize(text, 0);
        moevk::Detokenizer d(tok);
        std::string bytes, out;
        size_t held = 0;
        for (int32_t id : ids) {
            bytes += tok.piece(id);
            std::string got = d.push(id);
            // What is complete after this token and was not given out yet.
            const std::string expected =
                bytes.substr(out.size(), complete_prefix(bytes) - out.size());
            EXPECT_EQ(got, expected) << "after token " << id;
            if (complete_prefix(bytes) < bytes.size()) ++held;
            out += got;
        }
        EXPECT_EQ(out, text);
        EXPECT_GT(held, 0u) << "no character was split over tokens: the test proves nothing";
        EXPECT_EQ(d.flush(), "");
        // Half a character, then flush: U+FFFD.
        std::vector<int32_t> euro = tok.tokenize("\xE2\x82\xAC", 0);
        if (euro.size() >= 2) {
            EXPECT_EQ(d.push(euro[0]), "");
            EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
            EXPECT_EQ(d.push(tok.tokenize("a", 0)[0]), "a") << "the stream goes on after a flush";
        }
        expect_exception([&] { d.push(-3); }, MOEVK_ERROR_INVALID_ARGUMENT);
    }
}

// SentencePiece writes a word's space before it (U+2581): the first token of a text drops it
// again, unless the detokenizer is told the tokens continue a text.
TEST_F(Api, DetokenizerContinuationKeepsTheLeadingSpace) {
    const fs::path spm = kFixtures / "vocab" / "ggml-vocab-llama-spm.gguf";
    if (!fs::exists(spm)) GTEST_SKIP() << "no fixture at " << spm;
    auto stream = [](moevk::Detokenizer& d, const std::vector<int32_t>& ids) {
        std::string out;
        for (int32_t id : ids) out += d.push(id);
        return out + d.flush();
    };
    moevk::Tokenizer tok = moevk::Tokenizer::load(spm.string());
    const std::vector<int32_t> ids = tok.tokenize("Hello world", 0);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(tok.piece(ids[0]), " Hello") << "the fixture's first piece has no space to keep";
    moevk::Detokenizer first(tok), continuing(tok, MOEVK_TEXT_CONTINUATION);
    EXPECT_EQ(stream(first, ids), "Hello world");
    EXPECT_EQ(stream(continuing, ids), " Hello world");
    // Byte-level BPE has no such space: the flag changes nothing.
    moevk::Tokenizer demo_tok = tokenizer();
    const std::vector<int32_t> demo_ids = demo_tok.tokenize(" Hello world", 0);
    moevk::Detokenizer plain(demo_tok), cont(demo_tok, MOEVK_TEXT_CONTINUATION);
    EXPECT_EQ(stream(plain, demo_ids), " Hello world");
    EXPECT_EQ(stream(cont, demo_ids), " Hello world");
}

TEST_F(Api, ChatRenderingAndTemplateNames) {
    moevk::Tokenizer tok = tokenizer();
    std::vector<std::string> names = moevk::Tokenizer::template_names();
    ASSERT_FALSE(names.empty());
    const std::string file_template = tok.info().chat_template;
    EXPECT_NE(std::find(names.begin(), names.end(), file_template), names.end()) << file_template;

    std::vector<moevk::Message> conv = {{MOEVK_ROLE_SYSTEM, "Be brief."},
                                        {MOEVK_ROLE_USER, "Hello, model"}};
    std::string text = tok.render(conv);
    // ChatML (assets/README.md).
    EXPECT_TRUE(contains(text, "<|im_start|>system\nBe brief.<|im_end|>")) << text;
    EXPECT_TRUE(contains(text, "<|im_start|>user\nHello, model<|im_end|>")) << text;
    EXPECT_TRUE(text.size() > 22 && text.substr(text.size() - 22) == "<|im_start|>assistant\n")
        << text;
    moevk_chat_options no_prompt = moevk_chat_options_default();
    no_prompt.add_generation_prompt = 0;
    std::string closed = tok.render(conv, no_prompt);
    EXPECT_EQ(closed + "<|im_start|>assistant\n", text);

    // Every format moe-vk names renders a conversation with the user's text in it.
    for (const std::string& name : names) {
        moevk_chat_options o = moevk_chat_options_default();
        o.template_name = name.c_str();
        try {
            std::string t = tok.render({{MOEVK_ROLE_USER, "Hello, model"}}, o);
            EXPECT_TRUE(contains(t, "Hello, model")) << name << ": " << t;
        } catch (const moevk::Exception& e) {
            ADD_FAILURE() << name << ": " << e.what();
        }
    }
    moevk_chat_options unknown = moevk_chat_options_default();
    unknown.template_name = "no-such-format-x9";
    expect_exception([&] { tok.render(conv, unknown); }, MOEVK_ERROR_INVALID_ARGUMENT,
                     {"no-such-format-x9"});

    // The rendering tokenizes to the template's markers as single special tokens.
    std::vector<int32_t> ids = tok.tokenize(text, MOEVK_TOKENIZE_PARSE_SPECIAL);
    std::vector<int32_t> start = tok.tokenize("<|im_start|>", MOEVK_TOKENIZE_PARSE_SPECIAL);
    ASSERT_EQ(start.size(), 1u);
    EXPECT_EQ(ids[0], start[0]);
    EXPECT_EQ(tok.detokenize(ids, MOEVK_TEXT_RENDER_SPECIAL), text);
    EXPECT_EQ(tok.piece(start[0]), "");
    EXPECT_EQ(tok.piece(start[0], MOEVK_TEXT_RENDER_SPECIAL), "<|im_start|>");
}

TEST_F(Api, TokenizerWrappersThrowForBadInput) {
    expect_exception([] { moevk::Tokenizer::load("/nonexistent/dir/vocab-x9.gguf"); },
                     MOEVK_ERROR_BAD_FILE, {"vocab-x9.gguf"});
    moevk::Tokenizer tok = tokenizer();
    expect_exception([&] { tok.piece(-5); }, MOEVK_ERROR_INVALID_ARGUMENT, {"-5"});
    expect_exception([&] { tok.piece(int32_t(kDemoVocab)); }, MOEVK_ERROR_INVALID_ARGUMENT,
                     {std::to_string(kDemoVocab)});
    const int32_t bad[] = {1, 70000};
    expect_exception([&] { tok.detokenize(bad); }, MOEVK_ERROR_INVALID_ARGUMENT, {"70000"});
    // The wrappers grow their buffers: a long text and a long detokenization work.
    std::string long_text;
    for (int i = 0; i < 200; ++i) long_text += "the licence ";
    std::vector<int32_t> ids = tok.tokenize(long_text, 0);
    EXPECT_EQ(tok.detokenize(ids), long_text);
}

// A gpt-oss reply split through the C API and its wrapper: streamed in small pieces, ended on a
// stop token or cut, a tool call's recipient, and bad input. It needs no device.
TEST(ApiHarmony, SplitsAReplyByChannel) {
    const std::string reply =
        "<|channel|>analysis<|message|>User asks: 2 + 2. Simple.<|end|><|start|>assistant"
        "<|channel|>final<|message|>2 + 2 = 4.";
    auto by_channel = [](const std::vector<moevk::HarmonyReply::Piece>& pieces,
                         std::map<moevk_channel, std::string>& out) {
        for (const moevk::HarmonyReply::Piece& p : pieces) out[p.channel] += p.text;
    };
    for (moevk_end_reason end : {MOEVK_END_EOG, MOEVK_END_LENGTH}) {
        moevk::HarmonyReply h;
        std::map<moevk_channel, std::string> got;
        for (size_t at = 0; at < reply.size(); at += 3) by_channel(h.feed(reply.substr(at, 3)), got);
        EXPECT_FALSE(h.final_ended());
        by_channel(h.finish(end), got);
        EXPECT_EQ(got[MOEVK_CHANNEL_ANALYSIS], "User asks: 2 + 2. Simple.");
        EXPECT_EQ(got[MOEVK_CHANNEL_FINAL], "2 + 2 = 4.");
        EXPECT_EQ(got.size(), 2u);
        moevk_harmony_state s = h.state();
        EXPECT_EQ(s.final_ended, end == MOEVK_END_EOG) << moevk_end_reason_name(end);
        EXPECT_TRUE(s.done);
        EXPECT_EQ(s.channel, MOEVK_CHANNEL_FINAL);
        EXPECT_STREQ(s.channel_name, "final");
        EXPECT_STREQ(s.recipient, "");
        EXPECT_TRUE(h.feed("more").empty());
    }

    moevk::HarmonyReply call;
    std::map<moevk_channel, std::string> got;
    by_channel(call.feed("<|channel|>commentary to=functions.get_weather <|constrain|>json"
                         "<|message|>{\"location\":\"Tokyo\"}"),
               got);
    by_channel(call.finish(MOEVK_END_STOP_STRING), got);
    EXPECT_EQ(got[MOEVK_CHANNEL_COMMENTARY], "{\"location\":\"Tokyo\"}");
    EXPECT_STREQ(call.state().recipient, "functions.get_weather");
    EXPECT_FALSE(call.final_ended());

    EXPECT_STREQ(moevk_channel_name(MOEVK_CHANNEL_ANALYSIS), "analysis");
    EXPECT_STREQ(moevk_channel_name(MOEVK_CHANNEL_COMMENTARY), "commentary");
    EXPECT_STREQ(moevk_channel_name(MOEVK_CHANNEL_FINAL), "final");
    EXPECT_STREQ(moevk_channel_name(MOEVK_CHANNEL_OTHER), "other");
}

TEST(ApiHarmony, RefusesBadInputAndGoesOn) {
    moevk_channel_callback ignore = [](void*, moevk_channel, const char*, size_t) {};
    moevk_harmony* h = nullptr;
    EXPECT_EQ(moevk_harmony_create(nullptr), MOEVK_ERROR_INVALID_ARGUMENT);
    ASSERT_EQ(moevk_harmony_create(&h), MOEVK_OK);
    EXPECT_EQ(moevk_harmony_feed(nullptr, "x", 1, ignore, nullptr), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(moevk_harmony_feed(h, "x", 1, nullptr, nullptr), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(moevk_last_error()).find("on_text"), std::string::npos) << moevk_last_error();
    EXPECT_EQ(moevk_harmony_feed(h, nullptr, 4, ignore, nullptr), MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(moevk_harmony_feed(h, nullptr, 0, ignore, nullptr), MOEVK_OK);
    EXPECT_EQ(moevk_harmony_finish(h, static_cast<moevk_end_reason>(7), ignore, nullptr),
              MOEVK_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(moevk_last_error()).find("end is 7"), std::string::npos) << moevk_last_error();
    moevk_harmony_state s{};
    EXPECT_EQ(moevk_harmony_get_state(h, &s), MOEVK_ERROR_INVALID_ARGUMENT) << "struct_size 0";
    EXPECT_EQ(moevk_harmony_get_state(h, nullptr), MOEVK_ERROR_INVALID_ARGUMENT);
    // The errors changed nothing: the reply still splits.
    std::string final_text;
    moevk_channel_callback keep = [](void* user, moevk_channel c, const char* text, size_t length) {
        if (c == MOEVK_CHANNEL_FINAL) static_cast<std::string*>(user)->append(text, length);
    };
    const std::string reply = "<|channel|>final<|message|>ok";
    EXPECT_EQ(moevk_harmony_feed(h, reply.data(), reply.size(), keep, &final_text), MOEVK_OK);
    EXPECT_EQ(moevk_harmony_finish(h, MOEVK_END_EOG, keep, &final_text), MOEVK_OK);
    EXPECT_EQ(final_text, "ok");
    s.struct_size = sizeof s;
    EXPECT_EQ(moevk_harmony_get_state(h, &s), MOEVK_OK);
    EXPECT_TRUE(s.final_ended);
    moevk_harmony_destroy(h);
    moevk_harmony_destroy(nullptr);
}

}  // namespace
