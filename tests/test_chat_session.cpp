// Conversations through the whole stack on real files: the fixture models' own templates and
// vocabularies, and the demo model in assets/. Checks that the prompt is the template's rendering
// of the conversation, and that a second turn evaluates only what the cache lacks.
#include <filesystem>
#include <functional>

#include "gpu/error.h"
#include "model/model_file.h"
#include "runtime/generator.h"
#include "runtime/device_model.h"
#include "runtime/session.h"
#include "test_support.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace moevk {
namespace {

namespace fs = std::filesystem;

struct Loaded {
    model::ModelFile model;
    text::Tokenizer tokenizer;
    text::ChatTemplate chat_template;
};

Loaded load(const fs::path& path) {
    model::ModelFile m = model::ModelFile::open(path.string());
    text::Tokenizer tok = text::Tokenizer::from_file(m.file());
    text::ChatTemplate t = text::ChatTemplate::detect(*m.file().get_string("tokenizer.chat_template"));
    return {std::move(m), std::move(tok), std::move(t)};
}

class ChatSession : public test::GpuTest, public ::testing::WithParamInterface<std::string> {};

// One turn as the apps run it: the whole conversation fed through the template, the reply
// streamed and kept as the next assistant message.
struct Turn {
    uint32_t prompt_tokens = 0, reused = 0;
    runtime::GenerationResult result;
};
Turn send(runtime::Generator& gen, const text::ChatTemplate& t, std::vector<text::ChatMessage>& messages,
          std::string user, uint32_t max_tokens, const std::function<bool(std::string_view)>& on_text) {
    messages.push_back({text::Role::User, std::move(user)});
    Turn turn;
    try {
        gen.feed_chat(messages, t, {});
    } catch (...) {
        messages.pop_back();
        throw;
    }
    turn.reused = static_cast<uint32_t>(gen.history().size());
    turn.prompt_tokens = turn.reused + static_cast<uint32_t>(gen.pending().size());
    std::string reply;
    runtime::GenerateOptions o;
    o.max_tokens = max_tokens;
    o.on_token = [&](std::optional<uint32_t>, std::string_view piece) {
        reply += piece;
        return piece.empty() || on_text(piece);
    };
    turn.result = gen.run(o);
    messages.push_back({text::Role::Assistant, reply});
    return turn;
}

TEST_P(ChatSession, RendersThroughTheTemplateAndReusesTheCache) {
    fs::path path = GetParam();
    if (!fs::exists(path)) GTEST_SKIP() << "no model at " << path;
    Loaded l = load(path);
    runtime::DeviceModel device(ctx(), l.model);
    runtime::Session session(ctx(), device, {.n_ctx = 512, .max_batch = 64});
    runtime::SamplingParams greedy;
    greedy.temperature = 0;  // the test does not depend on a seed
    runtime::Generator gen(ctx(), session, &l.tokenizer, greedy);
    std::vector<text::ChatMessage> messages;

    std::string streamed;
    auto collect = [&](std::string_view piece) {
        streamed += piece;
        return true;
    };
    Turn first = send(gen, l.chat_template, messages, "What is a mixture of experts?", 12, collect);
    EXPECT_EQ(first.reused, 0u);
    EXPECT_EQ(first.result.prompt_tokens, first.prompt_tokens);
    EXPECT_GT(first.result.generated_tokens, 0u);
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[1].content, streamed) << "the kept reply is what was streamed";

    Turn second = send(gen, l.chat_template, messages, "And why does it save work?", 12, collect);
    // The whole first prompt is a prefix of the second one, so none of it runs again; at most
    // the reply's tail can differ (its text may tokenize differently from how it was sampled).
    EXPECT_GE(second.reused, first.prompt_tokens);
    EXPECT_EQ(second.reused + second.result.prompt_tokens, second.prompt_tokens);
    EXPECT_LT(second.result.prompt_tokens, second.prompt_tokens - first.prompt_tokens + 1);

    // What the cache holds is the tokens of the template's rendering of the conversation up to
    // the second reply, followed by that reply's tokens.
    std::vector<text::ChatMessage> asked(messages.begin(), messages.end() - 1);
    text::ChatOptions options;
    options.bos_token = l.tokenizer.bos() ? l.tokenizer.token_text(*l.tokenizer.bos(), true) : "";
    options.eos_token = l.tokenizer.eos() ? l.tokenizer.token_text(*l.tokenizer.eos(), true) : "";
    std::string expected_prompt = l.chat_template.render(asked, options);
    bool add_bos = l.tokenizer.add_bos() && !l.chat_template.writes_bos();
    std::vector<uint32_t> expected = l.tokenizer.encode(expected_prompt, add_bos, true);
    std::vector<uint32_t> known = gen.history();
    known.insert(known.end(), gen.pending().begin(), gen.pending().end());
    ASSERT_GE(known.size(), second.prompt_tokens);
    std::vector<uint32_t> prompt(known.begin(), known.begin() + second.prompt_tokens);
    EXPECT_EQ(prompt, expected) << "expected the tokens of: " << expected_prompt;
    EXPECT_EQ(session.position(), gen.history().size());

    gen.reset();
    EXPECT_EQ(session.position(), 0u);
    EXPECT_TRUE(gen.history().empty());
}

std::string fixture(const char* name) { return (fs::path(MOEVK_FIXTURES_DIR) / "models" / name).string(); }

INSTANTIATE_TEST_SUITE_P(Models, ChatSession,
                         ::testing::Values(fixture("qwen3moe-tiny-q8_0.gguf"), fixture("mixtral-tiny-q4_k_m.gguf"),
                                           std::string(MOEVK_ASSETS_DIR) + "/moe-vk-demo.gguf"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = fs::path(info.param).stem().string();
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

class ChatLimits : public test::GpuTest {};

TEST_F(ChatLimits, AFullContextIsRefusedAndTheChatStaysUsable) {
    fs::path path = std::string(MOEVK_ASSETS_DIR) + "/moe-vk-demo.gguf";
    Loaded l = load(path);
    runtime::DeviceModel device(ctx(), l.model);
    runtime::Session session(ctx(), device, {.n_ctx = 48, .max_batch = 64});
    runtime::SamplingParams sampling;
    sampling.seed = 7;
    runtime::Generator gen(ctx(), session, &l.tokenizer, sampling);
    std::vector<text::ChatMessage> messages;
    auto ignore = [](std::string_view) { return true; };
    test::expect_error([&] { send(gen, l.chat_template, messages, std::string(400, 'a'), 4, ignore); },
                       ErrorCode::ContextFull, {"context full", "48"});
    EXPECT_TRUE(messages.empty()) << "the refused message is not kept";
    Turn t = send(gen, l.chat_template, messages, "Hi", 4, ignore);
    EXPECT_GT(t.prompt_tokens, 0u);
    EXPECT_LE(session.position(), session.n_ctx());
}

TEST_F(ChatLimits, ReturningFalseFromTheStreamStopsTheReply) {
    Loaded l = load(std::string(MOEVK_ASSETS_DIR) + "/moe-vk-demo.gguf");
    runtime::DeviceModel device(ctx(), l.model);
    runtime::Session session(ctx(), device, {.n_ctx = 256, .max_batch = 64});
    runtime::SamplingParams greedy;
    greedy.temperature = 0;
    runtime::Generator gen(ctx(), session, &l.tokenizer, greedy);
    std::vector<text::ChatMessage> messages;
    int pieces = 0;
    Turn t = send(gen, l.chat_template, messages, "Tell me about the licence", 64,
                  [&](std::string_view) { return ++pieces < 3; });
    EXPECT_EQ(t.result.end, runtime::GenerationEnd::Stopped);
    EXPECT_EQ(pieces, 3);
    EXPECT_LE(t.result.generated_tokens, 3u);
}

}  // namespace
}  // namespace moevk
