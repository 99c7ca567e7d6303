// Writes the seed corpus of one fuzz target (model, vocab, tokenize, chat) from the real fixture
// files: the shared fixtures' vocabularies and model files, the demo model, and the chat
// template texts of tests/chat_templates.h. Like gguf_seeds, the seeds are made when the fuzzer
// runs, so they follow the fixtures and the Writer, and no binary seed is committed.
//
// Real vocabularies run to 2-4 MB and models to tens of MB, too large to mutate quickly, so the
// GGUF seeds keep every metadata key of the real file but only its first tokens (the merges
// among them; special ids past the cut move onto the last one kept), on tiny weights of the
// same architecture.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../chat_templates.h"
#include "gguf/gguf.h"
#include "gpu/error.h"
#include "model/synthetic.h"
#include "text/chat_template.h"

namespace {

namespace fs = std::filesystem;
using moevk::gguf::File;
using moevk::gguf::Value;
using moevk::gguf::ValueType;
using moevk::gguf::Writer;
using moevk::quant::WeightFormat;

const fs::path kFixtures = MOEVK_FIXTURES_DIR;
const fs::path kAssets = MOEVK_ASSETS_DIR;

std::vector<fs::path> vocab_files() {
    std::vector<fs::path> v;
    for (const char* name : {"llama-spm", "gpt-2", "phi-3", "deepseek-llm"})
        v.push_back(kFixtures / "vocab" / ("ggml-vocab-" + std::string(name) + ".gguf"));
    return v;
}

std::vector<fs::path> model_files() {
    return {kFixtures / "models" / "mixtral-tiny-q8_0.gguf",
            kFixtures / "models" / "qwen3moe-tiny-q4_k_m.gguf", kAssets / "moe-vk-demo.gguf"};
}

void save(const fs::path& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw moevk::Error(moevk::ErrorCode::BadFile, "cannot write " + path.string());
}
void save(const fs::path& path, const Writer& w) {
    std::vector<uint8_t> b = w.bytes();
    save(path, std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

// The file's tokenizer.* and general.* metadata with the vocabulary cut to its first n tokens:
// per-token arrays cut, merges kept where both halves and the result survive, special ids past
// n moved to n - 1. `skip_arch`: leave general.architecture and the architecture's keys out (the
// synthetic weights bring their own).
void copy_vocab(const File& f, Writer& w, size_t n, bool skip_arch) {
    std::set<std::string> kept;
    if (auto tokens = f.get_strings("tokenizer.ggml.tokens"))
        for (size_t i = 0; i < std::min(n, tokens->size()); ++i) kept.insert((*tokens)[i]);
    std::string arch = f.get_string("general.architecture").value_or("");
    for (const auto& [key, value] : f.metadata()) {
        if (key == "general.alignment") continue;
        if (skip_arch &&
            (key == "general.architecture" || (!arch.empty() && key.starts_with(arch + "."))))
            continue;
        Value v = value;
        if (auto* a = std::get_if<moevk::gguf::Array>(&v.data)) {
            if (key == "tokenizer.ggml.merges") {
                std::vector<Value> merges;
                for (const Value& m : a->items) {
                    const std::string& s = std::get<std::string>(m.data);
                    size_t space = s.find(' ', 1);
                    if (space == std::string::npos) continue;
                    std::string left = s.substr(0, space), right = s.substr(space + 1);
                    if (kept.count(left) && kept.count(right) && kept.count(left + right))
                        merges.push_back(m);
                }
                a->items = std::move(merges);
            } else if (key.starts_with("tokenizer.ggml.") && a->items.size() > n) {
                a->items.resize(n);
            }
        } else if (key.starts_with("tokenizer.ggml.") && key.ends_with("_token_id")) {
            // A special id past the cut moves to the last kept token (add_bos needs a BOS).
            if (auto id = f.get_uint(key); id && *id >= n)
                v = Value{ValueType::U32, uint64_t(n - 1)};
        }
        w.set(key, std::move(v));
    }
}

moevk::model::SyntheticSpec tiny(const std::string& arch, uint32_t n_vocab) {
    moevk::model::SyntheticSpec s;
    s.architecture = arch;
    s.n_layers = 1;
    s.d_model = 32;
    s.n_heads = 2;
    s.n_kv_heads = 1;
    s.head_dim = 16;
    s.n_vocab = n_vocab;
    s.n_experts = 4;
    s.top_k = 2;
    s.d_ff = 32;
    s.d_ff_shared = 32;
    return s;
}

void model_seeds(const fs::path& dir) {
    int i = 0;
    // Every architecture, in the formats a 32-wide row can hold, tied and untied.
    for (const char* arch : {"llama", "qwen3moe", "qwen2moe", "olmoe", "gpt-oss"}) {
        for (WeightFormat f :
             {WeightFormat::F32, WeightFormat::F16, WeightFormat::Q8_0, WeightFormat::Q4_1}) {
            moevk::model::SyntheticSpec s = tiny(arch, 8);
            s.attn_format = s.embed_format = s.output_format = s.gate_up_format = f;
            s.down_format = f == WeightFormat::F32 ? WeightFormat::BF16 : WeightFormat::Q5_0;
            s.tied_output = f == WeightFormat::F16;
            save(dir / ("synthetic-" + std::to_string(i++) + ".gguf"),
                 moevk::model::synthetic_model(s));
        }
    }
    // Tensors packed with general.alignment 1 (GGUF allows any power of two), the data section
    // moved by a string of 0..3 bytes: the f32 tensors start at every offset modulo 4.
    for (size_t pad = 0; pad < 4; ++pad) {
        moevk::model::SyntheticSpec s = tiny("qwen2moe", 8);
        s.gate_up_format = s.down_format = WeightFormat::Q8_0;
        Writer w = moevk::model::synthetic_model(s);
        w.set_string("fuzz.pad", std::string(pad, 'x'));
        w.set_alignment(1);
        save(dir / ("packed-" + std::to_string(pad) + ".gguf"), w);
    }
    // The real files' metadata (vocabulary cut short, chat template whole) on tiny weights.
    for (const fs::path& p : model_files()) {
        File f = File::open(p.string());
        const size_t n = 48;
        Writer w = moevk::model::synthetic_model(tiny(f.require_string("general.architecture"), n));
        copy_vocab(f, w, n, true);
        save(dir / (p.stem().string() + ".gguf"), w);
    }
}

void vocab_seeds(const fs::path& dir) {
    std::vector<fs::path> files = vocab_files();
    for (const fs::path& p : model_files()) files.push_back(p);
    for (const fs::path& p : files) {
        File f = File::open(p.string());
        for (size_t n : {300, 1000}) {
            Writer w;
            copy_vocab(f, w, n, false);
            save(dir / (p.stem().string() + "-" + std::to_string(n) + ".gguf"), w);
        }
    }
}

std::vector<std::string> split(const std::string& text, const std::string& sep) {
    std::vector<std::string> parts;
    for (size_t pos = 0;;) {
        size_t hit = text.find(sep, pos);
        parts.push_back(text.substr(pos, hit == std::string::npos ? std::string::npos : hit - pos));
        if (hit == std::string::npos) return parts;
        pos = hit + sep.size();
    }
}

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// First byte: the vocabulary (tokenize_fuzz.cpp's order: the four fixtures, then the demo
// model) and the flags; then a fixture text.
void tokenize_seeds(const fs::path& dir) {
    std::vector<std::string> texts;
    for (const fs::path& p : vocab_files())
        for (const std::string& t : split(read(p.string() + ".inp"), "\n__ggml_vocab_test__\n"))
            texts.push_back(t);
    texts.push_back("<s>[INST] Hi [/INST]</s><|im_start|>user\nHi<|im_end|>\n<|endoftext|>");
    for (size_t i = 0; i < texts.size(); ++i) {
        uint8_t vocab = i % 5, flags = (i / 5 % 4) << 4;
        save(dir / ("text-" + std::to_string(i)), std::string(1, char(vocab | flags)) + texts[i]);
    }
}

// A flags byte, the template, then role byte + content per message, NUL between them.
std::string chat_input(uint8_t flags, std::string_view source) {
    const std::pair<char, std::string_view> messages[] = {
        {0, "Be brief."}, {1, "Hello\n"}, {2, " Hi! <think>x</think>ok "}, {1, "What is 2+2?"}};
    std::string s(1, char(flags));
    s += source;
    for (const auto& [role, content] : messages) {
        s += '\0';
        s += role;
        s += content;
    }
    return s;
}

void chat_seeds(const fs::path& dir) {
    using namespace moevk::text::templates;
    std::vector<std::string> sources{std::string(kFixtureMixtral), std::string(kFixtureQwen3Moe),
                                     std::string(kOpenHermes),     std::string(kQwen2Moe),
                                     std::string(kQwen25),         std::string(kQwen3),
                                     std::string(kMixtralV1),      std::string(kMistralLegacy),
                                     std::string(kMistralV3),      std::string(kMistralTekken),
                                     std::string(kMistralV7),      std::string(kLlama3),
                                     std::string(kLlama31),        std::string(kLlama32DatePart),
                                     std::string(kPhi35),          std::string(kPhi3Small),
                                     std::string(kDeepSeekV2),     std::string(kDeepSeekV3),
                                     std::string(kDeepSeekR1),     std::string(kDeepSeekV31),
                                     std::string(kGptOss),         std::string(kTulu),
                                     std::string(kGemma)};
    for (const fs::path& p : model_files())
        if (auto t = File::open(p.string()).get_string("tokenizer.chat_template"))
            sources.push_back(*t);
    int i = 0;
    for (const std::string& src : sources)
        for (uint8_t flags : {0x01, 0x0B, 0x27, 0x80})
            save(dir / ("template-" + std::to_string(i++)), chat_input(flags, src));
    for (std::string_view name : moevk::text::ChatTemplate::names())
        save(dir / ("name-" + std::string(name)), chat_input(0x41, name));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s model|vocab|tokenize|chat OUTPUT_FOLDER\n", argv[0]);
        return 2;
    }
    std::string target = argv[1];
    fs::path dir = argv[2];
    try {
        fs::create_directories(dir);
        if (target == "model")
            model_seeds(dir);
        else if (target == "vocab")
            vocab_seeds(dir);
        else if (target == "tokenize")
            tokenize_seeds(dir);
        else if (target == "chat")
            chat_seeds(dir);
        else {
            std::fprintf(stderr, "fuzz_seeds: no target '%s'\n", target.c_str());
            return 2;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
        return 1;
    }
    return 0;
}
