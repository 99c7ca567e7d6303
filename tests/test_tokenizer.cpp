// Tokenizers against llama.cpp: the shared vocabulary fixtures (real models' vocabularies with
// llama.cpp's ids for each text), the fixture models' prompts, and the rules the fixtures do not
// reach (special tokens, streaming text out, pre-tokenizer details, bad vocabularies). No GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gguf/gguf.h"
#include "gpu/error.h"
#include "test_support.h"
#include "text/detokenizer.h"
#include "text/harmony_reply.h"
#include "text/pre_tokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace moevk {
namespace {

using test::expect_error;

namespace fs = std::filesystem;
using text::Tokenizer;

const fs::path kFixtures = fs::path(MOEVK_FIXTURES_DIR);

#define SKIP_WITHOUT_FIXTURES() \
    if (!fs::is_directory(kFixtures)) GTEST_SKIP() << "no fixtures at " << kFixtures.string()

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A text as a C string literal, so white space and bytes show in failure messages.
std::string c_literal(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        auto b = static_cast<uint8_t>(c);
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '"' || c == '\\')
            out += std::string("\\") + c;
        else if (b < 0x20 || b == 0x7F) {
            out += "\\x";
            out += "0123456789abcdef"[b >> 4];
            out += "0123456789abcdef"[b & 15];
        } else
            out += c;
    }
    return out + "\"";
}

std::string ids_text(const std::vector<uint32_t>& ids) {
    std::ostringstream s;
    s << '[';
    for (size_t i = 0; i < ids.size(); ++i) s << (i ? " " : "") << ids[i];
    s << ']';
    return s.str();
}

struct Case {
    std::string text;
    std::vector<uint32_t> ids;
};

// `<vocab>.inp` holds texts separated by "\n__ggml_vocab_test__\n" (one after the last text
// too); `<vocab>.out` one line of ids per text.
std::vector<Case> load_cases(const fs::path& vocab) {
    const std::string inp = read_file(vocab.string() + ".inp");
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<Case> cases;
    for (size_t pos = 0; pos < inp.size();) {
        size_t end = inp.find(sep, pos);
        if (end == std::string::npos) end = inp.size();
        cases.push_back({inp.substr(pos, end - pos), {}});
        pos = end + sep.size();
    }
    std::istringstream out(read_file(vocab.string() + ".out"));
    std::string line;
    for (Case& c : cases) {
        if (!std::getline(out, line)) break;
        std::istringstream ids(line);
        for (uint32_t id; ids >> id;) c.ids.push_back(id);
    }
    return cases;
}

Tokenizer open_tokenizer(const fs::path& path) {
    return Tokenizer::from_file(gguf::File::open(path.string()));
}

// --- llama.cpp's ids for the vocabulary fixtures ---------------------------------------------

class VocabFixture : public ::testing::TestWithParam<std::string> {
  protected:
    fs::path path() const { return kFixtures / "vocab" / ("ggml-vocab-" + GetParam() + ".gguf"); }
};

TEST_P(VocabFixture, EncodesAsLlamaCpp) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(path());
    const std::vector<Case> cases = load_cases(path());
    ASSERT_GT(cases.size(), 40u);
    size_t failed = 0;
    for (const Case& c : cases) {
        std::vector<uint32_t> ids = tok.encode(c.text, false, false);
        if (ids != c.ids) {
            ++failed;
            ADD_FAILURE() << GetParam() << ": " << c_literal(c.text)
                          << "\n  llama.cpp: " << ids_text(c.ids)
                          << "\n  moe-vk:    " << ids_text(ids);
        }
    }
    EXPECT_EQ(failed, 0u) << "of " << cases.size() << " texts";
}

// Decoding gives the text back. It holds for every fixture text: SentencePiece spells what it
// lacks in bytes, byte-level BPE covers every byte, and the first token's space prefix is
// dropped again.
TEST_P(VocabFixture, DecodeInvertsEncode) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(path());
    for (const Case& c : load_cases(path())) {
        EXPECT_EQ(tok.decode(tok.encode(c.text, false, false)), c.text) << c_literal(c.text);
        // With BOS too: the BOS gives no text and does not use up the space strip.
        if (tok.add_bos()) {
            EXPECT_EQ(tok.decode(tok.encode(c.text, true, false)), c.text) << c_literal(c.text);
        }
    }
}

// Token by token through the Detokenizer: every piece it returns is whole UTF-8, and together
// they are the text.
TEST_P(VocabFixture, StreamsWholeCharacters) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(path());
    for (const Case& c : load_cases(path())) {
        text::Detokenizer d(tok);
        std::string all;
        for (uint32_t id : tok.encode(c.text, false, false)) {
            std::string piece = d.push(id);
            std::string again;
            for (uint32_t cp : text::decode_utf8(piece)) text::append_utf8(again, cp);
            EXPECT_EQ(again, piece)
                << "not whole UTF-8 after token " << id << " in " << c_literal(c.text);
            all += piece;
        }
        all += d.flush();
        EXPECT_EQ(all, c.text);
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VocabFixture,
                         ::testing::Values("llama-spm", "phi-3", "gpt-2", "deepseek-llm"),
                         [](const auto& info) {
                             std::string name = info.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

// --- the fixture models' prompts --------------------------------------------------------------

TEST(ModelPrompts, TokensAsLlamaCpp) {
    SKIP_WITHOUT_FIXTURES();
    size_t checked = 0;
    for (const auto& entry : fs::directory_iterator(kFixtures / "models")) {
        const std::string name = entry.path().filename().string();
        if (entry.path().extension() != ".json" || name.find(".exact.") != std::string::npos)
            continue;
        // <model>.pN.json beside <model>.gguf
        const fs::path model =
            entry.path().parent_path() / (name.substr(0, name.rfind(".p")) + ".gguf");
        const Tokenizer tok = open_tokenizer(model);
        std::ifstream in(entry.path());
        const nlohmann::json j = nlohmann::json::parse(in);
        const std::string prompt = j.at("prompt").get<std::string>();
        const std::vector<uint32_t> expected = j.at("prompt_tokens").get<std::vector<uint32_t>>();
        const std::vector<uint32_t> ids = tok.encode(prompt, tok.add_bos(), false);
        EXPECT_EQ(ids, expected) << name << ": " << c_literal(prompt)
                                 << "\n  llama.cpp: " << ids_text(expected)
                                 << "\n  moe-vk:    " << ids_text(ids);
        EXPECT_EQ(tok.decode(ids), prompt) << name;
        ++checked;
    }
    EXPECT_GE(checked, 4u);
}

TEST(ModelPrompts, BosPerVocabulary) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer mixtral = open_tokenizer(kFixtures / "models" / "mixtral-tiny-f16.gguf");
    EXPECT_TRUE(mixtral.add_bos());
    EXPECT_EQ(mixtral.bos(), 1u);
    const Tokenizer qwen = open_tokenizer(kFixtures / "models" / "qwen3moe-tiny-f16.gguf");
    EXPECT_FALSE(qwen.add_bos());
}

// --- special tokens ---------------------------------------------------------------------------

TEST(SpecialTokens, ControlTokensOnlyWhenParsing) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(kFixtures / "vocab" / "ggml-vocab-llama-spm.gguf");
    const std::vector<uint32_t> hello = tok.encode("Hello", false, false);
    // Parsed: "<s>" is BOS, and the text after a special token gets the space prefix again.
    std::vector<uint32_t> parsed = tok.encode("<s>Hello</s>", false, true);
    std::vector<uint32_t> expected{1};
    expected.insert(expected.end(), hello.begin(), hello.end());
    expected.push_back(2);
    EXPECT_EQ(parsed, expected);
    // Not parsed: plain text, no control ids.
    std::vector<uint32_t> plain = tok.encode("<s>Hello</s>", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 1u), 0);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 2u), 0);
    EXPECT_EQ(tok.decode(plain), "<s>Hello</s>");
    // Control tokens give no text unless asked.
    EXPECT_EQ(tok.token_text(1), "");
    EXPECT_EQ(tok.token_text(1, true), "<s>");
    EXPECT_EQ(tok.decode(parsed), "Hello");
    EXPECT_EQ(tok.decode(parsed, true), "<s> Hello</s>");
}

// User-defined tokens are matched whether or not special tokens are parsed. As in llama.cpp,
// SentencePiece text after any special token gets the space prefix again, so " Hi " is encoded
// as it would be at the start of a text and comes back with two spaces.
TEST(SpecialTokens, UserDefinedAlwaysWhole) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(kFixtures / "models" / "mixtral-tiny-f16.gguf");
    const uint32_t inst = *tok.find_token("[INST]"), end = *tok.find_token("[/INST]");
    std::vector<uint32_t> expected{inst};
    for (uint32_t id : tok.encode(" Hi ", false, false)) expected.push_back(id);
    expected.push_back(end);
    for (bool parse : {false, true}) {
        std::vector<uint32_t> ids = tok.encode("[INST] Hi [/INST]", false, parse);
        EXPECT_EQ(ids, expected) << parse;
        EXPECT_EQ(tok.decode(ids), "[INST]  Hi [/INST]") << parse;
    }
    EXPECT_EQ(tok.token_text(inst), "[INST]");
}

TEST(SpecialTokens, BytePairControlToken) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(kFixtures / "models" / "qwen3moe-tiny-f16.gguf");
    const uint32_t eot = *tok.find_token("<|endoftext|>");
    std::vector<uint32_t> parsed = tok.encode("Hi<|endoftext|>", false, true);
    EXPECT_EQ(parsed.back(), eot);
    EXPECT_EQ(std::vector<uint32_t>(parsed.begin(), parsed.end() - 1),
              tok.encode("Hi", false, false));
    std::vector<uint32_t> plain = tok.encode("Hi<|endoftext|>", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), eot), 0);
    EXPECT_EQ(tok.decode(plain), "Hi<|endoftext|>");
    EXPECT_TRUE(tok.is_eog(eot));
    EXPECT_TRUE(tok.is_eog(*tok.eos()));
    EXPECT_FALSE(tok.is_eog(parsed.front()));
}

// llama.cpp's Phi-3 rule (by general.name): white space after a special token is dropped, so
// the chat template's newlines vanish.
TEST(SpecialTokens, Phi3StripsAfterSpecialTokens) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(kFixtures / "vocab" / "ggml-vocab-phi-3.gguf");
    const uint32_t user = *tok.find_token("<|user|>"), end = *tok.find_token("<|end|>");
    std::vector<uint32_t> expected{user};
    for (uint32_t id : tok.encode("Hi", false, false)) expected.push_back(id);
    expected.push_back(end);
    EXPECT_EQ(tok.encode("<|user|>\nHi<|end|>\n", false, true), expected);
    EXPECT_TRUE(tok.is_eog(end));
}

TEST(SpecialTokens, LongestFirst) {
    // "<a><b>" is one token and so is "<b>": the longer claims the text first.
    text::Vocab v;
    v.source = "synthetic";
    v.model = text::VocabModel::SentencePiece;
    v.tokens = {"<unk>", "<a><b>", "<b>", "\xE2\x96\x81x"};
    v.types = {text::TokenType::Unknown, text::TokenType::Control, text::TokenType::Control,
               text::TokenType::Normal};
    v.scores = {0, 0, 0, 0};
    v.unknown = 0;
    v.add_space_prefix = true;
    const Tokenizer tok = Tokenizer::from_vocab(v);
    EXPECT_EQ(tok.encode("<a><b><b>", false, true), (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(tok.encode("<b>x", false, true), (std::vector<uint32_t>{2, 3}));
}

// gpt-oss's o200k_harmony specials as a GGUF file has them (all control tokens), after a
// byte-level BPE vocabulary of the lowercase letters and a few words; EOS is <|return|>, as in
// gpt-oss files.
Tokenizer harmony_tokenizer(bool with_return_and_call = true) {
    text::Vocab v;
    v.source = "harmony";
    v.model = text::VocabModel::BytePairs;
    v.pre = "gpt-4o";
    for (char c = 'a'; c <= 'z'; ++c) v.tokens.emplace_back(1, c);
    const std::string space = "\xC4\xA0";  // GPT-2's alphabet spells a space as U+0120
    for (const std::string& t :
         {std::string("H"), space, std::string("Hi"), std::string("ok"), space + "ok"})
        v.tokens.push_back(t);
    v.merges = {"H i", "o k", space + " ok"};
    v.types.assign(v.tokens.size(), text::TokenType::Normal);
    std::vector<std::string> specials = {"<|startoftext|>", "<|end|>",     "<|start|>",
                                         "<|channel|>",     "<|message|>", "<|constrain|>"};
    if (with_return_and_call) specials.insert(specials.end(), {"<|return|>", "<|call|>"});
    for (const std::string& s : specials) {
        v.tokens.push_back(s);
        v.types.push_back(text::TokenType::Control);
    }
    v.scores.assign(v.tokens.size(), 0.0f);
    auto id_of = [&](const std::string& t) {
        return uint32_t(std::find(v.tokens.begin(), v.tokens.end(), t) - v.tokens.begin());
    };
    v.bos = id_of("<|startoftext|>");
    if (with_return_and_call) v.eos = id_of("<|return|>");
    return Tokenizer::from_vocab(v);
}

// As llama.cpp: the message tags print and are matched in text, <|end|> closes a message and
// prints, <|return|> and <|call|> end generation and print nothing.
TEST(SpecialTokens, HarmonyTags) {
    const Tokenizer tok = harmony_tokenizer();
    auto id = [&](const char* t) { return *tok.find_token(t); };
    for (const char* t : {"<|start|>", "<|channel|>", "<|message|>", "<|constrain|>", "<|end|>"}) {
        EXPECT_EQ(tok.token_text(id(t)), t);
        EXPECT_FALSE(tok.is_control(id(t))) << t;
        EXPECT_FALSE(tok.is_eog(id(t))) << t;
    }
    for (const char* t : {"<|return|>", "<|call|>"}) {
        EXPECT_EQ(tok.token_text(id(t)), "");
        EXPECT_EQ(tok.token_text(id(t), true), t);
        EXPECT_TRUE(tok.is_eog(id(t))) << t;
    }
    EXPECT_EQ(tok.token_text(id("<|startoftext|>")), "");
    // User-defined now, the tags are whole tokens in any text, parsed or not.
    const std::vector<uint32_t> ids = {id("<|channel|>"), id("Hi"), id("<|message|>"), id("ok")};
    EXPECT_EQ(tok.encode("<|channel|>Hi<|message|>ok", false, false), ids);
    EXPECT_EQ(tok.encode("<|channel|>Hi<|message|>ok", false, true), ids);
    EXPECT_EQ(tok.encode("<|return|>", false, true), (std::vector<uint32_t>{id("<|return|>")}));
    EXPECT_NE(tok.encode("<|return|>", false, false), (std::vector<uint32_t>{id("<|return|>")}));

    // Without <|return|> and <|call|> (a Phi-3-like vocabulary) <|end|> ends a turn as before.
    const Tokenizer other = harmony_tokenizer(false);
    const uint32_t end = *other.find_token("<|end|>");
    EXPECT_TRUE(other.is_eog(end));
    EXPECT_EQ(other.token_text(end), "");
    EXPECT_EQ(other.token_text(*other.find_token("<|channel|>")), "<|channel|>");
}

// What a generation streams for a gpt-oss reply: each token through a Detokenizer, up to the
// end-of-generation token, which is not streamed; the harmony splitter then gives the channels.
TEST(SpecialTokens, HarmonyReplyFromGeneratedTokens) {
    const Tokenizer tok = harmony_tokenizer();
    const std::string reply =
        "<|channel|>analysis<|message|>Hi ok<|end|><|start|>assistant"
        "<|channel|>final<|message|>ok<|return|>";
    // Words the small vocabulary has no merge for come letter by letter.
    std::vector<uint32_t> ids = tok.encode(reply, false, true);
    ASSERT_TRUE(tok.is_eog(ids.back()));
    text::Detokenizer detok(tok, false, false);
    text::HarmonyReply split;
    std::string analysis, final_text;
    auto take = [&](const std::vector<text::HarmonyReply::Piece>& pieces) {
        for (const text::HarmonyReply::Piece& p : pieces)
            (p.channel == text::Channel::Final ? final_text : analysis) += p.text;
    };
    for (uint32_t id : ids) {
        if (tok.is_eog(id)) break;
        take(split.feed(detok.push(id)));
    }
    take(split.feed(detok.flush()));
    take(split.finish(text::HarmonyReply::End::StopToken));
    EXPECT_EQ(analysis, "Hi ok");
    EXPECT_EQ(final_text, "ok");
    EXPECT_TRUE(split.final_ended());
}

// --- streaming text out -----------------------------------------------------------------------

TEST(Detokenizer, HoldsSplitCharacters) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(kFixtures / "vocab" / "ggml-vocab-llama-spm.gguf");
    const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600, four bytes
    std::vector<uint32_t> bytes;
    for (char c : emoji) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", static_cast<uint8_t>(c));
        bytes.push_back(*tok.find_token(name));
    }
    text::Detokenizer d(tok);
    EXPECT_EQ(d.push(bytes[0]), "");
    EXPECT_EQ(d.push(bytes[1]), "");
    EXPECT_EQ(d.push(bytes[2]), "");
    EXPECT_EQ(d.push(bytes[3]), emoji);
    EXPECT_EQ(d.flush(), "");
    // An incomplete character at the end comes out as U+FFFD; a stray byte too.
    text::Detokenizer cut(tok);
    EXPECT_EQ(cut.push(bytes[0]), "");
    EXPECT_EQ(cut.push(bytes[1]), "");
    EXPECT_EQ(cut.flush(), "\xEF\xBF\xBD");
    text::Detokenizer stray(tok);
    EXPECT_EQ(stray.push(bytes[3]), "\xEF\xBF\xBD");
    // The encoder spells the emoji the same way (the vocabulary has no piece for it).
    EXPECT_EQ(tok.encode(emoji, false, false).back(), bytes.back());
}

TEST(Detokenizer, BytePairSplitCharacters) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(kFixtures / "vocab" / "ggml-vocab-gpt-2.gguf");
    // GPT-2 spells this emoji as several tokens, each part of the character.
    const std::string emoji = "\xF0\x9F\xA6\x99";  // U+1F999
    const std::vector<uint32_t> ids = tok.encode(emoji, false, false);
    ASSERT_GT(ids.size(), 1u);
    text::Detokenizer d(tok);
    std::string out;
    for (size_t i = 0; i + 1 < ids.size(); ++i) out += d.push(ids[i]);
    EXPECT_EQ(out, "");
    EXPECT_EQ(d.push(ids.back()), emoji);
    EXPECT_EQ(tok.token_text(220), " ");
    EXPECT_EQ(tok.token_text(198), "\n");
}

TEST(Detokenizer, LeadingSpace) {
    SKIP_WITHOUT_FIXTURES();
    const Tokenizer tok = open_tokenizer(kFixtures / "vocab" / "ggml-vocab-llama-spm.gguf");
    const std::vector<uint32_t> ids = tok.encode("Hello world", false, false);
    EXPECT_EQ(tok.token_text(ids[0]), " Hello");
    text::Detokenizer start(tok);
    EXPECT_EQ(start.push(ids[0]), "Hello");
    // Continuing a text (tokens generated after a prompt) keeps the space.
    text::Detokenizer cont(tok, false, false);
    EXPECT_EQ(cont.push(ids[0]), " Hello");
    EXPECT_EQ(cont.push(ids[1]), " world");
}

// --- pre-tokenizer rules the fixtures do not reach -------------------------------------------

std::vector<std::string> words(text::PreTokenizer pre, std::string_view s) {
    std::vector<uint32_t> cps = text::decode_utf8(s);
    std::vector<std::string> out;
    for (const text::Piece& p : text::pre_split(pre, cps)) {
        std::string w;
        for (size_t i = p.begin; i < p.end; ++i) text::append_utf8(w, cps[i]);
        out.push_back(w);
    }
    return out;
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, Digits) {
    EXPECT_EQ(words(text::PreTokenizer::Llama3, "a 1234567"), (Words{"a", " ", "123", "456", "7"}));
    EXPECT_EQ(words(text::PreTokenizer::Qwen2, "a 1234"), (Words{"a", " ", "1", "2", "3", "4"}));
    EXPECT_EQ(words(text::PreTokenizer::Gpt2, "a 1234"), (Words{"a", " 1234"}));
    EXPECT_EQ(words(text::PreTokenizer::Default, "x 1234567"),
              (Words{"x", " ", "123", "456", "7"}));
    EXPECT_EQ(words(text::PreTokenizer::Gpt4o, "1234567"), (Words{"123", "456", "7"}));
}

TEST(PreTokenizer, Contractions) {
    EXPECT_EQ(words(text::PreTokenizer::Gpt2, "I'M here"), (Words{"I", "'", "M", " here"}));
    EXPECT_EQ(words(text::PreTokenizer::Llama3, "I'M here"), (Words{"I", "'M", " here"}));
    EXPECT_EQ(words(text::PreTokenizer::Gpt4o, "I'M here"), (Words{"I'M", " here"}));
}

TEST(PreTokenizer, WhiteSpace) {
    EXPECT_EQ(words(text::PreTokenizer::Gpt2, "a   b\n\n"), (Words{"a", "  ", " b", "\n\n"}));
    EXPECT_EQ(words(text::PreTokenizer::Llama3, "a  \n  b"), (Words{"a", "  \n", " ", " b"}));
    EXPECT_EQ(words(text::PreTokenizer::Qwen2, "x!!\n\ny"), (Words{"x", "!!\n\n", "y"}));
}

TEST(PreTokenizer, CaseChanges) {
    EXPECT_EQ(words(text::PreTokenizer::Gpt4o, "helloWorld HTTPServer"),
              (Words{"hello", "World", " HTTPServer"}));
    EXPECT_EQ(words(text::PreTokenizer::Gpt4o, "ABC, path/to\n"),
              (Words{"ABC", ",", " path", "/to", "\n"}));
}

TEST(PreTokenizer, Names) {
    EXPECT_EQ(text::pre_tokenizer_from_name(""), text::PreTokenizer::Default);
    EXPECT_EQ(text::pre_tokenizer_from_name("gpt-2"), text::PreTokenizer::Gpt2);
    EXPECT_EQ(text::pre_tokenizer_from_name("olmo"), text::PreTokenizer::Gpt2);
    EXPECT_EQ(text::pre_tokenizer_from_name("llama-bpe"), text::PreTokenizer::Llama3);
    EXPECT_EQ(text::pre_tokenizer_from_name("qwen2"), text::PreTokenizer::Qwen2);
    EXPECT_EQ(text::pre_tokenizer_from_name("deepseek-llm"), text::PreTokenizer::DeepseekLlm);
    EXPECT_EQ(text::pre_tokenizer_from_name("gpt-4o"), text::PreTokenizer::Gpt4o);
    EXPECT_FALSE(text::pre_tokenizer_from_name("bogus"));
}

// --- vocabularies moe-vk refuses --------------------------------------------------------------

gguf::Writer vocab_writer(const std::string& model) {
    gguf::Writer w;
    w.set_string("general.architecture", "llama");
    w.set_string("tokenizer.ggml.model", model);
    w.set_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b", "ab"});
    w.set_float32s("tokenizer.ggml.scores", {0, 0, 0, -1, -1, -0.5f});
    w.set_int32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
    return w;
}

Tokenizer parse(const gguf::Writer& w, const std::string& name) {
    std::vector<uint8_t> bytes = w.bytes();
    return Tokenizer::from_file(gguf::File::parse(bytes, name));
}

TEST(VocabErrors, UnknownModel) {
    expect_error([] { parse(vocab_writer("bert"), "bert.gguf"); }, ErrorCode::Unsupported,
                 {"bert.gguf", "'bert'"});
}

TEST(VocabErrors, UnknownPreTokenizer) {
    gguf::Writer w = vocab_writer("gpt2");
    w.set_strings("tokenizer.ggml.merges", {"a b"});
    w.set_string("tokenizer.ggml.pre", "bogus-pre");
    expect_error([&] { parse(w, "pre.gguf"); }, ErrorCode::Unsupported,
                 {"pre.gguf", "'bogus-pre'"});
}

TEST(VocabErrors, Inconsistent) {
    {
        gguf::Writer w = vocab_writer("llama");
        w.set_float32s("tokenizer.ggml.scores", {0, 0, 0});
        expect_error([&] { parse(w, "scores.gguf"); }, ErrorCode::BadFile,
                     {"scores.gguf", "tokenizer.ggml.scores"});
    }
    {
        gguf::Writer w = vocab_writer("llama");
        w.set_uint32("tokenizer.ggml.eos_token_id", 6);
        expect_error([&] { parse(w, "eos.gguf"); }, ErrorCode::BadFile,
                     {"eos.gguf", "tokenizer.ggml.eos_token_id"});
    }
    {
        gguf::Writer w = vocab_writer("llama");
        w.set_int32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 9});
        expect_error([&] { parse(w, "type.gguf"); }, ErrorCode::BadFile,
                     {"type.gguf", "tokenizer.ggml.token_type"});
    }
    {
        gguf::Writer w = vocab_writer("llama");
        w.set_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b", "a"});
        expect_error([&] { parse(w, "dup.gguf"); }, ErrorCode::BadFile,
                     {"dup.gguf", "tokenizer.ggml.tokens"});
    }
    {
        gguf::Writer w = vocab_writer("gpt2");
        expect_error([&] { parse(w, "merges.gguf"); }, ErrorCode::BadFile,
                     {"merges.gguf", "tokenizer.ggml.merges"});
    }
    {
        gguf::Writer w;
        w.set_string("tokenizer.ggml.model", "llama");
        expect_error([&] { parse(w, "none.gguf"); }, ErrorCode::BadFile,
                     {"none.gguf", "tokenizer.ggml.tokens"});
    }
}

TEST(VocabErrors, BuiltInCode) {
    text::Vocab v;
    v.source = "in code";
    v.tokens = {"a", "b"};
    v.scores = {0};
    v.types = {text::TokenType::Normal, text::TokenType::Normal};
    expect_error([&] { Tokenizer::from_vocab(v); }, ErrorCode::InvalidArgument,
                 {"in code", "one per token"});
    v.scores = {0, 0};
    v.eos = 2;
    expect_error([&] { Tokenizer::from_vocab(v); }, ErrorCode::InvalidArgument, {"in code", "2"});
}

// A tiny SentencePiece vocabulary written here: merges by score, byte fallback to <unk> when the
// vocabulary has no byte tokens.
TEST(SmallVocab, SentencePieceMerges) {
    gguf::Writer w = vocab_writer("llama");
    w.set_strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "ab",
                                            "\xE2\x96\x81"
                                            "a"});
    w.set_float32s("tokenizer.ggml.scores", {0, 0, 0, -1, -1, -1, -0.5f, -2});
    w.set_int32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1});
    const Tokenizer tok = parse(w, "small.gguf");
    // "▁ab": the pair "ab" (-0.5) beats "▁a" (-2).
    EXPECT_EQ(tok.encode("ab", true, false), (std::vector<uint32_t>{1, 3, 6}));
    EXPECT_EQ(tok.encode("c", false, false), (std::vector<uint32_t>{3, 0}));
    EXPECT_EQ(tok.n_vocab(), 8u);
    expect_error([&] { (void)tok.token_text(8); }, ErrorCode::InvalidArgument, {"8"});
}

}  // namespace
}  // namespace moevk
