// libFuzzer target for the tokenizers on real vocabularies: the shared fixtures' vocabulary files
// (SentencePiece and byte-level BPE with each pre-tokenizer they use) and the demo model's.
// The first input byte picks the vocabulary and the flags, the rest is the text. Encoding must
// never fail; the ids decode back to the text where it is valid UTF-8 (test_tokenizer holds
// that for the fixture texts); the ids, and the raw bytes read as ids, go through the streaming
// Detokenizer, which must give whole UTF-8 only.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gpu/error.h"
#include "text/detokenizer.h"
#include "text/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using moevk::text::Tokenizer;

std::vector<Tokenizer> load_all() {
    std::vector<fs::path> paths;
    fs::path vocab = fs::path(MOEVK_FIXTURES_DIR) / "vocab";
    for (const char* name : {"llama-spm", "gpt-2", "phi-3", "deepseek-llm"})
        paths.push_back(vocab / ("ggml-vocab-" + std::string(name) + ".gguf"));
    paths.push_back(fs::path(MOEVK_ASSETS_DIR) / "moe-vk-demo.gguf");
    std::vector<Tokenizer> all;
    for (const fs::path& p : paths) {
        if (!fs::exists(p)) {
            std::fprintf(stderr, "tokenize_fuzz: %s is missing\n", p.c_str());
            std::abort();  // the harness, not the library: without its inputs it fuzzes nothing
        }
        all.push_back(Tokenizer::from_file(moevk::gguf::File::open(p.string())));
    }
    return all;
}

const std::vector<Tokenizer>& tokenizers() {
    static const std::vector<Tokenizer> all = load_all();
    return all;
}

// Whole UTF-8 sequences, judged by lead and continuation bytes as llama.cpp does (overlong forms
// and surrogates pass, F5..F7 leads do not); `strict` refuses those too.
bool whole_utf8(std::string_view s, bool strict = false) {
    for (size_t i = 0; i < s.size();) {
        auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
        uint8_t lead = b(i);
        size_t n = lead < 0x80                   ? 1
                   : lead >= 0xC0 && lead < 0xE0 ? 2
                   : lead >= 0xE0 && lead < 0xF0 ? 3
                   : lead >= 0xF0 && lead < 0xF5 ? 4
                                                 : 0;
        if (n == 0 || i + n > s.size()) return false;
        uint32_t cp = n == 1 ? lead : lead & (0x7F >> n);
        for (size_t k = 1; k < n; ++k) {
            if ((b(i + k) & 0xC0) != 0x80) return false;
            cp = cp << 6 | (b(i + k) & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (strict && (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)))
            return false;
        i += n;
    }
    return true;
}
bool valid_utf8(std::string_view s) {
    return whole_utf8(s, true);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    tokenizers();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::vector<Tokenizer>& all = tokenizers();
    const Tokenizer& tok = all[data[0] % all.size()];
    const bool parse_special = data[0] & 0x10, add_bos = (data[0] & 0x20) && tok.bos();
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

    std::vector<uint32_t> ids = tok.encode(text, add_bos, parse_special);
    for (uint32_t id : ids)
        if (id >= tok.n_vocab()) __builtin_trap();
    std::string back = tok.decode(ids, parse_special);
    // SentencePiece writes spaces as U+2581 and decodes every U+2581 as a space, so a text that
    // holds the character itself cannot come back (llama.cpp's decoding does the same).
    const bool spm_space_mark = text.find("\xE2\x96\x81") != std::string_view::npos;
    if (!parse_special && !spm_space_mark && valid_utf8(text) && back != text) __builtin_trap();

    // Streaming: every piece whole UTF-8; ids past the vocabulary are refused with Error.
    moevk::text::Detokenizer d(tok, parse_special, !(data[0] & 0x40));
    for (size_t i = 1; i + 1 < size; i += 2)
        ids.push_back(uint32_t(data[i]) | uint32_t(data[i + 1]) << 8);
    for (uint32_t id : ids) {
        try {
            if (!whole_utf8(d.push(id))) __builtin_trap();
        } catch (const moevk::Error&) {
            if (id < tok.n_vocab()) __builtin_trap();
        }
    }
    if (!whole_utf8(d.flush())) __builtin_trap();
    return 0;
}
