// Conversations through the whole stack on real files: the fixture models' own templates and
// vocabularies, and the demo model in assets/. Checks that the prompt is the template's rendering
// of the conversation, and that a second turn evaluates only what the cache lacks.
#include <filesystem>

#include "gpu/error.h"
#include "model/model_file.h"
#include "runtime/chat.h"
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

TEST_P(ChatSession, RendersThroughTheTemplateAndReusesTheCache) {
    fs::path path = GetParam();
    if (!fs::exists(path)) GTEST_SKIP() << "no model at " << path;
    Loaded l = load(path);
    runtime::DeviceModel device(ctx(), l.model);
    runtime::Session session(ctx(), device, {.n_ctx = 512, .max_batch = 64});
    runtime::ChatSettings settings;
    settings.sampling.temperature = 0;  // greedy: the test does not depend on a seed
    settings.max_reply_tokens = 12;
    runtime::Chat chat(session, l.tokenizer, l.chat_template, settings);

    std::string streamed;
    auto collect = [&](std::string_view piece) {
        streamed += piece;
        return true;
    };
    runtime::TurnStats first = chat.send("What is a mixture of experts?", collect);
    EXPECT_EQ(first.reused_tokens, 0u);
    EXPECT_EQ(first.evaluated_tokens, first.prompt_tokens);
    EXPECT_GT(first.generated_tokens, 0u);
    ASSERT_EQ(chat.messages().size(), 2u);
    EXPECT_EQ(chat.messages()[1].content, streamed) << "the kept reply is what was streamed";

    runtime::TurnStats second = chat.send("And why does it save work?", collect);
    // The whole first prompt is a prefix of the second one, so none of it runs again; at most
    // the reply's tail can differ (its text may tokenize differently from how it was sampled).
    EXPECT_GE(second.reused_tokens, first.prompt_tokens);
    EXPECT_EQ(second.reused_tokens + second.evaluated_tokens, second.prompt_tokens);
    EXPECT_LT(second.evaluated_tokens, second.prompt_tokens - first.prompt_tokens + 1);

    // What the cache holds is the tokens of the template's rendering of the conversation up to
    // the second reply, followed by that reply's tokens.
    std::vector<text::ChatMessage> asked(chat.messages().begin(), chat.messages().end() - 1);
    text::ChatOptions options;
    options.bos_token = l.tokenizer.bos() ? l.tokenizer.token_text(*l.tokenizer.bos(), true) : "";
    options.eos_token = l.tokenizer.eos() ? l.tokenizer.token_text(*l.tokenizer.eos(), true) : "";
    std::string expected_prompt = l.chat_template.render(asked, options);
    bool add_bos = l.tokenizer.add_bos() && !l.chat_template.writes_bos();
    std::vector<uint32_t> expected = l.tokenizer.encode(expected_prompt, add_bos, true);
    std::vector<uint32_t> prompt(chat.cached_tokens().begin(), chat.cached_tokens().begin() + second.prompt_tokens);
    EXPECT_EQ(prompt, expected) << "expected the tokens of: " << expected_prompt;
    EXPECT_EQ(session.position(), chat.cached_tokens().size());

    chat.reset();
    EXPECT_EQ(session.position(), 0u);
    EXPECT_TRUE(chat.messages().empty());
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
    runtime::ChatSettings settings;
    settings.sampling.seed = 7;
    settings.max_reply_tokens = 4;
    runtime::Chat chat(session, l.tokenizer, l.chat_template, settings);
    auto ignore = [](std::string_view) { return true; };
    try {
        chat.send(std::string(400, 'a'), ignore);
        FAIL() << "a 400-character message went into a 48-token context";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("context full"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(chat.messages().empty()) << "the refused message is not kept";
    runtime::TurnStats s = chat.send("Hi", ignore);
    EXPECT_GT(s.prompt_tokens, 0u);
    EXPECT_LE(session.position(), session.n_ctx());
}

TEST_F(ChatLimits, ReturningFalseFromTheStreamStopsTheReply) {
    Loaded l = load(std::string(MOEVK_ASSETS_DIR) + "/moe-vk-demo.gguf");
    runtime::DeviceModel device(ctx(), l.model);
    runtime::Session session(ctx(), device, {.n_ctx = 256, .max_batch = 64});
    runtime::ChatSettings settings;
    settings.sampling.temperature = 0;
    settings.max_reply_tokens = 64;
    runtime::Chat chat(session, l.tokenizer, l.chat_template, settings);
    int pieces = 0;
    runtime::TurnStats s = chat.send("Tell me about the licence", [&](std::string_view) { return ++pieces < 3; });
    EXPECT_EQ(s.end, runtime::TurnStats::End::Interrupted);
    EXPECT_EQ(pieces, 3);
    EXPECT_LE(s.generated_tokens, 3u);
}

}  // namespace
}  // namespace moevk
