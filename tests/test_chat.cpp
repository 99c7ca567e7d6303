// Chat templates, no GPU: each real template text (chat_templates.h) is recognised as its family,
// and the rendering equals what the Jinja template produces for the common conversations. The
// expected strings are worked out by hand from the template texts; the ones marked "llama.cpp"
// are the outputs llama.cpp's template tests record for its Jinja engine, a second witness.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <vector>

#include "chat_templates.h"
#include "gguf/gguf.h"
#include "gpu/error.h"
#include "test_support.h"
#include "text/chat_template.h"
#include "text/whitespace.h"

namespace moevk::text {
namespace {

using test::expect_error;

namespace tpl = templates;
using namespace std::chrono_literals;

const std::string kSystem = "You are a helpful assistant";

std::vector<ChatMessage> conv(std::initializer_list<std::pair<Role, const char*>> turns) {
    std::vector<ChatMessage> m;
    for (auto [role, text] : turns) m.push_back({role, text});
    return m;
}
const std::vector<ChatMessage> kSystemUser =
    conv({{Role::System, kSystem.c_str()}, {Role::User, "Hello"}});
const std::vector<ChatMessage> kUser = conv({{Role::User, "Hello"}});
const std::vector<ChatMessage> kMultiTurn =
    conv({{Role::User, "Hello"}, {Role::Assistant, "Hi there"}, {Role::User, "Who are you"}});
const std::vector<ChatMessage> kUserAssistant =
    conv({{Role::User, "Hello"}, {Role::Assistant, "Hi there"}});
// llama.cpp's test conversation (tests/test-chat-template.cpp), with a padded reply.
const std::vector<ChatMessage> kLlamaCpp = conv({{Role::System, "You are a helpful assistant"},
                                                 {Role::User, "Hello"},
                                                 {Role::Assistant, "Hi there"},
                                                 {Role::User, "Who are you"},
                                                 {Role::Assistant, "   I am an assistant   "},
                                                 {Role::User, "Another question"}});

ChatOptions opts(std::string bos, std::string eos, bool generation = true) {
    ChatOptions o;
    o.bos_token = std::move(bos);
    o.eos_token = std::move(eos);
    o.add_generation_prompt = generation;
    return o;
}

// --- the fixture models ----------------------------------------------------------------------

TEST(ChatTemplate, FixtureTemplatesAreTheOnesInTheFiles) {
    const std::filesystem::path dir = std::filesystem::path(MOEVK_FIXTURES_DIR) / "models";
    if (!std::filesystem::exists(dir)) GTEST_SKIP() << "no fixtures at " << dir;
    EXPECT_EQ(gguf::File::open((dir / "mixtral-tiny-f16.gguf").string())
                  .get_string("tokenizer.chat_template"),
              std::string(tpl::kFixtureMixtral));
    EXPECT_EQ(gguf::File::open((dir / "qwen3moe-tiny-f16.gguf").string())
                  .get_string("tokenizer.chat_template"),
              std::string(tpl::kFixtureQwen3Moe));
}

TEST(ChatTemplate, FixtureQwen3Moe) {
    ChatTemplate t = ChatTemplate::detect(tpl::kFixtureQwen3Moe);
    EXPECT_EQ(t.name(), "chatml");
    EXPECT_FALSE(t.writes_bos());
    EXPECT_EQ(t.render(kSystemUser),
              "<|im_start|>system\nYou are a helpful "
              "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
              "<|im_start|>assistant\n");
    EXPECT_EQ(t.render(kUser, opts("", "", false)), "<|im_start|>user\nHello<|im_end|>\n");
    EXPECT_EQ(t.render(kUser), "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    EXPECT_EQ(t.render(kMultiTurn),
              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
              "<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, FixtureMixtral) {
    ChatTemplate t = ChatTemplate::detect(tpl::kFixtureMixtral);
    EXPECT_EQ(t.name(), "mistral-legacy");
    EXPECT_TRUE(t.writes_bos());
    // The template has no generation prompt: the text is the same either way.
    for (bool generation : {true, false}) {
        ChatOptions o = opts("<s>", "</s>", generation);
        EXPECT_EQ(t.render(kUser, o), "<s>[INST] Hello [/INST]");
        EXPECT_EQ(t.render(kMultiTurn, o),
                  "<s>[INST] Hello [/INST]Hi there</s>[INST] Who are you [/INST]");
    }
    // The one place the rendering departs from the fixture's Jinja on purpose: that template
    // sends every non-user message down its else branch, so a system prompt would come out as
    // "<s>You are a helpful assistant</s>[INST] Hello [/INST]", a reply the model never gave.
    // The legacy format folds it into the first user turn, as Mistral's own v1 template does.
    EXPECT_EQ(t.render(kSystemUser, opts("<s>", "</s>")),
              "<s>[INST] You are a helpful assistant\n\nHello [/INST]");
}

// --- ChatML ----------------------------------------------------------------------------------

TEST(ChatTemplate, OpenHermesChatMl) {
    ChatTemplate t = ChatTemplate::detect(tpl::kOpenHermes);
    EXPECT_EQ(t.name(), "chatml");
    // llama.cpp
    EXPECT_EQ(t.render(kLlamaCpp),
              "<|im_start|>system\nYou are a helpful "
              "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
              "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"
              "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother "
              "question<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, QwenDefaultSystemPrompts) {
    ChatTemplate qwen2 = ChatTemplate::detect(tpl::kQwen2Moe);
    EXPECT_EQ(std::get<format::ChatMl>(qwen2.format()).default_system,
              "You are a helpful assistant.");
    EXPECT_EQ(qwen2.render(kUser),
              "<|im_start|>system\nYou are a helpful "
              "assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
              "<|im_start|>assistant\n");

    ChatTemplate qwen25 = ChatTemplate::detect(tpl::kQwen25);
    EXPECT_EQ(qwen25.name(), "chatml");
    EXPECT_EQ(qwen25.render(kUser),
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
              "assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
    // A system message of the conversation replaces the default.
    EXPECT_EQ(qwen25.render(kSystemUser),
              "<|im_start|>system\nYou are a helpful "
              "assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
              "<|im_start|>assistant\n");
    EXPECT_EQ(qwen25.render(kMultiTurn, opts("", "", false)),
              "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
              "assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi "
              "there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n");
}

TEST(ChatTemplate, Qwen3) {
    ChatTemplate t = ChatTemplate::detect(tpl::kQwen3);
    EXPECT_EQ(t.name(), "qwen3");
    const auto& f = std::get<format::ChatMl>(t.format());
    EXPECT_TRUE(f.qwen3_reasoning && f.thinking_switch && !f.opens_think &&
                f.default_system.empty());

    const std::string prompt =
        "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n"
        "Hello<|im_end|>\n<|im_start|>assistant\n";
    EXPECT_EQ(t.render(kSystemUser), prompt);
    ChatOptions think = opts("", "");
    think.enable_thinking = true;
    EXPECT_EQ(t.render(kSystemUser, think), prompt);
    ChatOptions no_think = opts("", "");
    no_think.enable_thinking = false;
    EXPECT_EQ(t.render(kSystemUser, no_think), prompt + "<think>\n\n</think>\n\n");

    EXPECT_EQ(t.render(kMultiTurn),
              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
              "<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n");
    // An earlier reply loses its reasoning: content.split('</think>')[-1].lstrip('\n').
    auto reasoned = conv({{Role::User, "Hello"},
                          {Role::Assistant, "<think>\nThe user greets me.\n</think>\n\nHi there"},
                          {Role::User, "Who are you"}});
    EXPECT_EQ(t.render(reasoned), t.render(kMultiTurn));
    // The reply after the last user message keeps it; without one it gets an empty block.
    auto last = conv({{Role::User, "Hello"},
                      {Role::Assistant, "<think>\nThe user greets me.\n</think>\n\nHi there"}});
    EXPECT_EQ(t.render(last, opts("", "", false)),
              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\nThe user greets "
              "me.\n</think>\n\nHi there<|im_end|>\n");
    EXPECT_EQ(t.render(kUserAssistant, opts("", "", false)),
              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nHi "
              "there<|im_end|>\n");
    // A user message that is a wrapped tool response is not the last query: both replies follow
    // it, but only the last one, or one with reasoning, gets a block.
    auto tool = conv({{Role::User, "Hello"},
                      {Role::Assistant, "Hi there"},
                      {Role::User, "<tool_response>42</tool_response>"},
                      {Role::Assistant, "Done"}});
    EXPECT_EQ(t.render(tool, opts("", "", false)),
              "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n"
              "<|im_start|>user\n<tool_response>42</tool_response><|im_end|>\n"
              "<|im_start|>assistant\n<think>\n\n</think>\n\nDone<|im_end|>\n");
}

// --- Mistral ---------------------------------------------------------------------------------

TEST(ChatTemplate, MixtralV1) {
    ChatTemplate t = ChatTemplate::detect(tpl::kMixtralV1);
    EXPECT_EQ(t.name(), "mistral-v1");
    ChatOptions o = opts("<s>", "</s>");
    EXPECT_EQ(t.render(kSystemUser, o), "<s> [INST] You are a helpful assistant\n\nHello [/INST]");
    EXPECT_EQ(t.render(kUser, o), "<s> [INST] Hello [/INST]");
    EXPECT_EQ(t.render(kMultiTurn, o),
              "<s> [INST] Hello [/INST] Hi there</s> [INST] Who are you [/INST]");
    // llama.cpp
    EXPECT_EQ(
        t.render(kLlamaCpp, opts("", "</s>")),
        " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you "
        "[/INST]    I am an assistant   </s> [INST] Another question [/INST]");
    EXPECT_EQ(ChatTemplate::from_name("mistral").render(kLlamaCpp, opts("", "</s>")),
              t.render(kLlamaCpp, opts("", "</s>")));
}

TEST(ChatTemplate, MistralLegacy) {
    ChatTemplate t = ChatTemplate::detect(tpl::kMistralLegacy);
    EXPECT_EQ(t.name(), "mistral-legacy");
    EXPECT_EQ(t.render(kMultiTurn, opts("<s>", "</s>")),
              "<s>[INST] Hello [/INST]Hi there</s>[INST] Who are you [/INST]");
}

TEST(ChatTemplate, MistralV3) {
    ChatTemplate t = ChatTemplate::detect(tpl::kMistralV3);
    EXPECT_EQ(t.name(), "mistral-v3");
    ChatOptions o = opts("<s>", "</s>");
    EXPECT_EQ(t.render(kSystemUser, o), "<s>[INST] You are a helpful assistant\n\nHello[/INST]");
    EXPECT_EQ(t.render(kMultiTurn, o),
              "<s>[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]");
    // llama.cpp: the system prompt goes to the last user turn, replies are trimmed.
    EXPECT_EQ(
        t.render(kLlamaCpp, opts("", "</s>")),
        "[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] You "
        "are a helpful assistant\n\nAnother question[/INST]");
    // And only when that turn is the last message: the template drops it otherwise.
    auto ends_with_reply =
        conv({{Role::System, "Be brief."}, {Role::User, "Hello"}, {Role::Assistant, "Hi there"}});
    EXPECT_EQ(t.render(ends_with_reply, o), "<s>[INST] Hello[/INST] Hi there</s>");
}

TEST(ChatTemplate, MistralTekken) {
    ChatTemplate t = ChatTemplate::detect(tpl::kMistralTekken);
    EXPECT_EQ(t.name(), "mistral-v3-tekken");
    // llama.cpp
    EXPECT_EQ(t.render(kLlamaCpp, opts("", "</s>")),
              "[INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   "
              "</s>[INST]You "
              "are a helpful assistant\n\nAnother question[/INST]");
}

TEST(ChatTemplate, MistralV7) {
    ChatTemplate t = ChatTemplate::detect(tpl::kMistralV7);
    EXPECT_EQ(t.name(), "mistral-v7");
    // llama.cpp
    EXPECT_EQ(t.render(kLlamaCpp, opts("", "</s>")),
              "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi "
              "there</s>[INST] "
              "Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]");
    EXPECT_EQ(t.render(kSystemUser, opts("<s>", "</s>")),
              "<s>[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST]");
}

TEST(ChatTemplate, MistralRolesMustAlternate) {
    ChatTemplate t = ChatTemplate::from_name("mistral");
    expect_error(
        [&] {
            t.render(conv({{Role::Assistant, "Hi"}}));
        },
        ErrorCode::InvalidArgument, {"message 0", "assistant", "alternate"});
    expect_error(
        [&] {
            t.render(conv({{Role::User, "a"}, {Role::User, "b"}}));
        },
        ErrorCode::InvalidArgument, {"message 1", "user"});
    expect_error(
        [&] {
            t.render(conv({{Role::User, "a"}, {Role::System, "b"}}));
        },
        ErrorCode::InvalidArgument, {"message 1", "system"});
}

// --- Llama 3 ---------------------------------------------------------------------------------

TEST(ChatTemplate, Llama3) {
    ChatTemplate t = ChatTemplate::detect(tpl::kLlama3);
    EXPECT_EQ(t.name(), "llama3");
    ChatOptions o = opts("<|begin_of_text|>", "<|eot_id|>");
    EXPECT_EQ(t.render(kSystemUser, o),
              "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful "
              "assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n");
    EXPECT_EQ(t.render(kUser, opts("<|begin_of_text|>", "", false)),
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>");
    // llama.cpp: contents are trimmed.
    EXPECT_EQ(
        t.render(kLlamaCpp),
        "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant"
        "<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho "
        "are "
        "you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>"
        "assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama31) {
    ChatTemplate t = ChatTemplate::detect(tpl::kLlama31);
    EXPECT_EQ(t.name(), "llama3.1");
    EXPECT_EQ(std::get<format::Llama3>(t.format()).fixed_date, "26 Jul 2024");
    ChatOptions o = opts("<|begin_of_text|>", "<|eot_id|>");
    const std::string head =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge "
        "Date: December 2023\nToday Date: 26 Jul 2024\n\n";
    EXPECT_EQ(t.render(kSystemUser, o),
              head +
                  "You are a helpful assistant<|eot_id|><|start_header_id|>user"
                  "<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant"
                  "<|end_header_id|>\n\n");
    // The system turn is there without a system message, and the message is trimmed.
    EXPECT_EQ(t.render(kUser, o),
              head +
                  "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n");
    auto padded = conv({{Role::System, "  Be brief.\n"}, {Role::User, "Hello"}});
    EXPECT_EQ(
        t.render(padded, opts("<|begin_of_text|>", "", false)),
        head + "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>");
    // date_string passed in overrides the template's.
    o.date = 2025y / std::chrono::August / 5d;
    EXPECT_NE(t.render(kUser, o).find("Today Date: 05 Aug 2025\n\n"), std::string::npos);
}

TEST(ChatTemplate, Llama32TakesTodaysDate) {
    ChatTemplate t = ChatTemplate::detect(tpl::kLlama32DatePart);
    EXPECT_EQ(t.name(), "llama3.1");
    EXPECT_EQ(std::get<format::Llama3>(t.format()).fixed_date, "");
    // The rendering Hugging Face documents for this template (chat templating guide).
    ChatOptions o = opts("<|begin_of_text|>", "<|eot_id|>");
    o.date = 2025y / std::chrono::August / 25d;
    EXPECT_EQ(
        t.render(conv({{Role::System, "You are a friendly chatbot"}, {Role::User, "Hello!"}}), o),
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: "
        "December "
        "2023\nToday Date: 25 Aug 2025\n\nYou are a friendly "
        "chatbot<|eot_id|><|start_header_id|>user"
        "<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    // Without a date, today's: "DD Mon YYYY".
    std::string text = t.render(kUser, opts("", ""));
    size_t at = text.find("Today Date: ");
    ASSERT_NE(at, std::string::npos);
    std::string date = text.substr(at + 12, text.find('\n', at) - at - 12);
    EXPECT_EQ(date.size(), 11u) << date;
}

// --- Phi-3 -----------------------------------------------------------------------------------

TEST(ChatTemplate, Phi35) {
    ChatTemplate t = ChatTemplate::detect(tpl::kPhi35);
    EXPECT_EQ(t.name(), "phi3");
    EXPECT_FALSE(t.writes_bos());
    ChatOptions o = opts("<s>", "<|endoftext|>");
    EXPECT_EQ(
        t.render(kSystemUser, o),
        "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n");
    EXPECT_EQ(t.render(kUser, opts("<s>", "<|endoftext|>", false)),
              "<|user|>\nHello<|end|>\n<|endoftext|>");
    EXPECT_EQ(t.render(kMultiTurn, o),
              "<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are "
              "you<|end|>\n<|assistant|>\n");
    // An empty system message is skipped.
    EXPECT_EQ(t.render(conv({{Role::System, ""}, {Role::User, "Hello"}}), o), t.render(kUser, o));
}

TEST(ChatTemplate, Phi3Small) {
    ChatTemplate t = ChatTemplate::detect(tpl::kPhi3Small);
    EXPECT_EQ(t.name(), "phi3");
    EXPECT_TRUE(t.writes_bos());
    // llama.cpp (bos_token "")
    EXPECT_EQ(
        t.render(kLlamaCpp),
        "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi "
        "there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   "
        "<|end|>\n"
        "<|user|>\nAnother question<|end|>\n<|assistant|>\n");
    EXPECT_EQ(t.render(kUser, opts("<|endoftext|>", "<|endoftext|>")),
              "<|endoftext|><|user|>\nHello<|end|>\n<|assistant|>\n");
}

// --- DeepSeek --------------------------------------------------------------------------------

const std::string kDsBos = "<｜begin▁of▁sentence｜>";
const std::string kDsEos = "<｜end▁of▁sentence｜>";

TEST(ChatTemplate, DeepSeekV2) {
    ChatTemplate t = ChatTemplate::detect(tpl::kDeepSeekV2);
    EXPECT_EQ(t.name(), "deepseek");
    ChatOptions o = opts(kDsBos, kDsEos);
    EXPECT_EQ(t.render(kSystemUser, o),
              kDsBos + "You are a helpful assistant\n\nUser: Hello\n\nAssistant:");
    EXPECT_EQ(t.render(kUser, opts(kDsBos, kDsEos, false)), kDsBos + "User: Hello\n\n");
    EXPECT_EQ(t.render(kMultiTurn, o), kDsBos + "User: Hello\n\nAssistant: Hi there" + kDsEos +
                                           "User: Who are you\n\nAssistant:");
    // llama.cpp
    EXPECT_EQ(t.render(kLlamaCpp, opts("", kDsEos)),
              "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there" + kDsEos +
                  "User: Who are you\n\nAssistant:    I am an assistant   " + kDsEos +
                  "User: Another question\n\nAssistant:");
}

TEST(ChatTemplate, DeepSeekV3) {
    ChatTemplate t = ChatTemplate::detect(tpl::kDeepSeekV3);
    EXPECT_EQ(t.name(), "deepseek3");
    ChatOptions o = opts(kDsBos, kDsEos);
    EXPECT_EQ(t.render(kSystemUser, o),
              kDsBos + "You are a helpful assistant<｜User｜>Hello<｜Assistant｜>");
    EXPECT_EQ(t.render(kMultiTurn, o), kDsBos + "<｜User｜>Hello<｜Assistant｜>Hi there" + kDsEos +
                                           "<｜User｜>Who are you<｜Assistant｜>");
    EXPECT_EQ(t.render(kUser, opts(kDsBos, kDsEos, false)), kDsBos + "<｜User｜>Hello");
    // System prompts are gathered at the start, joined by a blank line.
    auto two = conv({{Role::System, "A"}, {Role::User, "Hello"}, {Role::System, "B"}});
    EXPECT_EQ(t.render(two, o), kDsBos + "A\n\nB<｜User｜>Hello<｜Assistant｜>");
}

TEST(ChatTemplate, DeepSeekR1) {
    ChatTemplate t = ChatTemplate::detect(tpl::kDeepSeekR1);
    EXPECT_EQ(t.name(), "deepseek-r1");
    ChatOptions o = opts(kDsBos, kDsEos);
    EXPECT_EQ(t.render(kSystemUser, o),
              kDsBos + "You are a helpful assistant<｜User｜>Hello<｜Assistant｜><think>\n");
    // A reply keeps what follows its last </think>, newlines included.
    auto reasoned = conv({{Role::User, "Hello"},
                          {Role::Assistant, "<think>\nA greeting.\n</think>\n\nHi there"},
                          {Role::User, "Who are you"}});
    EXPECT_EQ(t.render(reasoned, o), kDsBos + "<｜User｜>Hello<｜Assistant｜>\n\nHi there" +
                                         kDsEos + "<｜User｜>Who are you<｜Assistant｜><think>\n");
}

TEST(ChatTemplate, DeepSeekV31) {
    ChatTemplate t = ChatTemplate::detect(tpl::kDeepSeekV31);
    EXPECT_EQ(t.name(), "deepseek-v3.1");
    ChatOptions o = opts(kDsBos, kDsEos);
    EXPECT_EQ(t.render(kSystemUser, o),
              kDsBos + "You are a helpful assistant<｜User｜>Hello<｜Assistant｜></think>");
    EXPECT_EQ(t.render(kMultiTurn, o), kDsBos + "<｜User｜>Hello<｜Assistant｜></think>Hi there" +
                                           kDsEos + "<｜User｜>Who are you<｜Assistant｜></think>");
    o.enable_thinking = true;
    EXPECT_EQ(t.render(kMultiTurn, o), kDsBos + "<｜User｜>Hello<｜Assistant｜></think>Hi there" +
                                           kDsEos + "<｜User｜>Who are you<｜Assistant｜><think>");
}

// --- gpt-oss ---------------------------------------------------------------------------------

TEST(ChatTemplate, GptOss) {
    ChatTemplate t = ChatTemplate::detect(tpl::kGptOss);
    EXPECT_EQ(t.name(), "gpt-oss");
    ChatOptions o = opts("<|startoftext|>", "<|return|>");
    o.date = 2025y / std::chrono::August / 5d;
    const std::string system =
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by "
        "OpenAI.\nKnowledge cutoff: "
        "2024-06\nCurrent date: 2025-08-05\n\nReasoning: medium\n\n# Valid channels: analysis, "
        "commentary, final. "
        "Channel must be included for every message.<|end|>";
    EXPECT_EQ(t.render(kSystemUser, o),
              system +
                  "<|start|>developer<|message|># Instructions\n\nYou are a helpful "
                  "assistant<|end|><|start|>user<|message|>Hello<|end|><|start|>assistant");
    EXPECT_EQ(t.render(kMultiTurn, o),
              system +
                  "<|start|>user<|message|>Hello<|end|><|start|>assistant<|channel|>final"
                  "<|message|>Hi there<|end|><|start|>user<|message|>Who are "
                  "you<|end|><|start|>assistant");
    o.add_generation_prompt = false;
    EXPECT_EQ(t.render(kUserAssistant, o),
              system +
                  "<|start|>user<|message|>Hello<|end|><|start|>assistant<|channel|>"
                  "final<|message|>Hi there<|return|>");
    o.reasoning_effort = "high";
    EXPECT_NE(t.render(kUser, o).find("\nReasoning: high\n\n"), std::string::npos);
    expect_error(
        [&] {
            t.render(conv({{Role::User, "a"}, {Role::Assistant, "<|channel|>final<|message|>b"}}),
                     o);
        },
        ErrorCode::InvalidArgument, {"<|channel|>"});
}

// --- Tulu ------------------------------------------------------------------------------------

TEST(ChatTemplate, TuluForOlmoe) {
    ChatTemplate t = ChatTemplate::detect(tpl::kTulu);
    EXPECT_EQ(t.name(), "tulu");
    ChatOptions o = opts("<|endoftext|>", "<|endoftext|>");
    EXPECT_EQ(
        t.render(kSystemUser, o),
        "<|endoftext|><|system|>\nYou are a helpful assistant\n<|user|>\nHello\n<|assistant|>\n");
    EXPECT_EQ(
        t.render(kMultiTurn, o),
        "<|endoftext|><|user|>\nHello\n<|assistant|>\nHi there<|endoftext|>\n<|user|>\nWho are "
        "you\n<|assistant|>\n");
    EXPECT_EQ(t.render(kUserAssistant, opts("<|endoftext|>", "<|endoftext|>", false)),
              "<|endoftext|><|user|>\nHello\n<|assistant|>\nHi there<|endoftext|>");
}

// --- names, errors, stop strings ---------------------------------------------------------------

TEST(ChatTemplate, EveryNameRendersAndNamesItself) {
    for (std::string_view name : ChatTemplate::names()) {
        ChatTemplate t = ChatTemplate::from_name(name);
        EXPECT_EQ(t.name(), name == "mistral" ? "mistral-v1" : std::string(name));
        EXPECT_FALSE(t.render(kLlamaCpp, opts("<s>", "</s>")).empty()) << name;
    }
    // The named formats render the templates they stand for alike.
    ChatOptions o = opts("<s>", "</s>");
    const std::pair<const char*, std::string_view> same[] = {
        {"chatml", tpl::kOpenHermes},      {"qwen3", tpl::kQwen3},
        {"mistral-v1", tpl::kMixtralV1},   {"mistral-legacy", tpl::kMistralLegacy},
        {"mistral-v3", tpl::kMistralV3},   {"mistral-v3-tekken", tpl::kMistralTekken},
        {"mistral-v7", tpl::kMistralV7},   {"llama3", tpl::kLlama3},
        {"llama3.1", tpl::kLlama31},       {"phi3", tpl::kPhi35},
        {"deepseek", tpl::kDeepSeekV2},    {"deepseek3", tpl::kDeepSeekV3},
        {"deepseek-r1", tpl::kDeepSeekR1}, {"deepseek-v3.1", tpl::kDeepSeekV31},
        {"gpt-oss", tpl::kGptOss},         {"tulu", tpl::kTulu},
    };
    o.date = 2025y / std::chrono::January / 1d;
    for (auto [name, source] : same) {
        for (const auto* c : {&kSystemUser, &kMultiTurn, &kLlamaCpp})
            EXPECT_EQ(ChatTemplate::from_name(name).render(*c, o),
                      ChatTemplate::detect(source).render(*c, o))
                << name;
    }
}

TEST(ChatTemplate, Errors) {
    expect_error([] { ChatTemplate::from_name("vicuna"); }, ErrorCode::InvalidArgument,
                 {"\"vicuna\"", "chatml", "mistral", "llama3", "phi3", "deepseek", "gpt-oss"});
    expect_error([] { ChatTemplate::detect(tpl::kGemma); }, ErrorCode::Unsupported,
                 {"not recognised", "{% if messages[0]['role'] == 'system' %}", "Gemma",
                  "<start_of_turn>", "chatml"});
    expect_error([] { ChatTemplate::detect("Hello {{ name }}"); }, ErrorCode::Unsupported,
                 {"\"Hello {{ name }}\"", "choose a format by name"});
    expect_error([] { ChatTemplate::detect(" \n"); }, ErrorCode::Unsupported, {"no chat template"});
    expect_error([] { ChatTemplate::from_name("chatml").render({}); }, ErrorCode::InvalidArgument,
                 {"no messages"});
}

TEST(ChatTemplate, StopStrings) {
    using V = std::vector<std::string>;
    EXPECT_EQ(ChatTemplate::detect(tpl::kQwen3).stop_strings("<|im_end|>"),
              (V{"<|im_end|>", "<|im_start|>"}));
    EXPECT_EQ(ChatTemplate::detect(tpl::kQwen3).stop_strings("<|endoftext|>"),
              (V{"<|im_end|>", "<|endoftext|>", "<|im_start|>"}));
    EXPECT_EQ(ChatTemplate::from_name("mistral").stop_strings("</s>"), (V{"</s>", "[INST]"}));
    EXPECT_EQ(ChatTemplate::from_name("llama3").stop_strings("<|eot_id|>"),
              (V{"<|eot_id|>", "<|eom_id|>", "<|start_header_id|>"}));
    EXPECT_EQ(ChatTemplate::from_name("phi3").stop_strings("<|endoftext|>"),
              (V{"<|end|>", "<|endoftext|>", "<|user|>"}));
    EXPECT_EQ(ChatTemplate::from_name("deepseek").stop_strings(kDsEos), (V{kDsEos}));
    EXPECT_EQ(ChatTemplate::from_name("deepseek3").stop_strings(kDsEos), (V{kDsEos, "<｜User｜>"}));
    EXPECT_EQ(ChatTemplate::from_name("gpt-oss").stop_strings("<|return|>"),
              (V{"<|return|>", "<|call|>"}));
    EXPECT_EQ(ChatTemplate::from_name("tulu").stop_strings(""), V{});
}

TEST(PythonStrip, StripsWhatStrStripDoes) {
    EXPECT_EQ(python_strip("  \t\nHi there \r\n"), "Hi there");
    EXPECT_EQ(python_strip("\u00a0\u3000Hi\u2003\u0085"), "Hi");  // Unicode spaces too
    EXPECT_EQ(python_strip("\u200bHi"), "\u200bHi");              // a zero-width space is not one
    EXPECT_EQ(python_strip("é "), "é");
    EXPECT_EQ(python_strip("   "), "");
    EXPECT_EQ(python_strip("\xff "), "\xff");  // malformed bytes stay
}

}  // namespace
}  // namespace moevk::text
