// libFuzzer target for the vocabulary reader and the tokenizer built on it: a GGUF file from
// bytes (fuzzed tokenizer.ggml.* metadata), read as Tokenizer::from_file reads it, then a few
// fixed texts encoded and every token decoded. Any input must build a tokenizer or throw
// moevk::Error, and a tokenizer that builds must encode and decode without failing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gguf/gguf.h"
#include "gpu/error.h"
#include "text/detokenizer.h"
#include "text/tokenizer.h"

namespace {

// Texts that reach every step: spaces and their runs, digits, punctuation, contractions,
// multi-byte characters, bytes that are not UTF-8, and special-token spellings.
constexpr std::string_view kTexts[] = {
    "Hello world",
    "  two  spaces\n\n\tand tabs 123456 1.5e3 don't I'll",
    "\xC3\xA9t\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\xA6\x99 \xE2\x96\x81",
    "\xFF\xFE bad \xC3 utf8 \xE2\x82",
    "<s>[INST] <|im_start|>user\n<|endoftext|></s><unk><0x41>",
    "",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::optional<moevk::text::Tokenizer> tok;
    try {
        tok.emplace(moevk::text::Tokenizer::from_file(
            moevk::gguf::File::parse({data, size}, "fuzz-vocab.gguf")));
    } catch (const moevk::Error&) {
        return 0;  // rejecting a malformed vocabulary is the expected outcome
    }
    // From here on nothing may fail: the vocabulary was accepted.
    const moevk::text::Tokenizer& t = *tok;
    for (std::string_view text : kTexts) {
        for (int mode = 0; mode < 4; ++mode) {
            bool add_bos = (mode & 1) && t.bos(), parse_special = mode & 2;
            std::vector<uint32_t> ids = t.encode(text, add_bos, parse_special);
            for (uint32_t id : ids)
                if (id >= t.n_vocab()) __builtin_trap();
            t.decode(ids, parse_special);
        }
    }
    moevk::text::Detokenizer d(t, true);
    for (uint32_t id = 0; id < t.n_vocab(); ++id) {
        t.token_text(id, false);
        t.is_eog(id);
        t.is_control(id);
        d.push(id);
    }
    d.flush();
    return 0;
}
