// libFuzzer target for model binding: a GGUF file from bytes, bound to a model config and its
// tensors as moevk_model_load does before anything reaches the device (ModelFile, then the
// tokenizer and the chat template of the same file). Any input must load or throw
// moevk::Error; a crash, a sanitizer report or another exception is a bug. A model that binds
// must also be one the device upload can take: every view lies in the file and holds exactly
// the bytes its shape and format imply (the GPU would read past it otherwise).
#include <cstddef>
#include <cstdint>
#include <optional>

#include "gguf/gguf.h"
#include "gpu/error.h"
#include "model/model_file.h"
#include "quant/formats.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace {

using moevk::model::Matrix;

std::span<const uint8_t> g_input;

void require_inside(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    if (bytes.data() < g_input.data() ||
        bytes.data() + bytes.size() > g_input.data() + g_input.size())
        __builtin_trap();
}

uint64_t touch(std::span<const uint8_t> bytes) {
    require_inside(bytes);
    uint64_t sum = 0;
    for (uint8_t b : bytes) sum += b;
    return sum;
}

uint64_t touch(std::span<const float> values, size_t expected) {
    if (values.size() != expected) __builtin_trap();
    require_inside({reinterpret_cast<const uint8_t*>(values.data()), values.size_bytes()});
    double sum = 0;
    for (float v : values) sum += v;  // an unaligned float span shows up under UBSan here
    return static_cast<uint64_t>(sum != sum);
}

// The byte count the kernels assume for a [rows][row_len] matrix in its format.
uint64_t touch(const Matrix& m, uint32_t rows, uint32_t row_len) {
    if (m.rows != rows || m.row_len != row_len) __builtin_trap();
    if (m.bytes.size() != uint64_t(rows) * moevk::quant::row_bytes(m.format, row_len))
        __builtin_trap();
    return touch(m.bytes);
}

uint64_t use_model(const moevk::model::ModelFile& mf) {
    const moevk::model::ModelConfig& c = mf.config();
    const moevk::model::ModelWeights& w = mf.weights();
    moevk::model::describe(c);
    uint64_t sum = mf.active_weight_bytes();
    sum += touch(w.token_embd, c.n_vocab, c.d_model) + touch(w.output, c.n_vocab, c.d_model);
    sum += touch(w.output_norm, c.d_model);
    if (w.layers.size() != c.n_layers) __builtin_trap();
    const moevk::moe::MoeConfig& m = c.moe;
    for (const moevk::model::LayerWeights& l : w.layers) {
        sum += touch(l.attn_norm, c.d_model) + touch(l.ffn_norm, c.d_model);
        sum += touch(l.wq, c.q_dim(), c.d_model) + touch(l.wk, c.kv_dim(), c.d_model);
        sum += touch(l.wv, c.kv_dim(), c.d_model) + touch(l.wo, c.d_model, c.q_dim());
        // Each bias is optional on its own where the architecture has them: absent or whole.
        auto bias = [&](std::span<const float> b, size_t n) {
            return touch(b, c.qkv_bias && !b.empty() ? n : 0);
        };
        sum += bias(l.q_bias, c.q_dim()) + bias(l.k_bias, c.kv_dim()) + bias(l.v_bias, c.kv_dim());
        using moevk::model::QkNorm;
        bool per_head = c.qk_norm == QkNorm::PerHead, none = c.qk_norm == QkNorm::None;
        sum += touch(l.q_norm, none ? 0 : per_head ? c.head_dim : c.q_dim());
        sum += touch(l.k_norm, none ? 0 : per_head ? c.head_dim : c.kv_dim());
        sum += touch(l.moe.router, size_t(m.n_experts) * m.d_model);
        if (l.moe.experts.size() != m.n_experts) __builtin_trap();
        uint64_t gate_up =
            uint64_t(m.d_ff) * moevk::quant::row_bytes(l.moe.formats.gate_up, m.d_model);
        uint64_t down = uint64_t(m.d_model) * moevk::quant::row_bytes(l.moe.formats.down, m.d_ff);
        for (const moevk::moe::ExpertView& e : l.moe.experts) {
            if (e.gate.size() != gate_up || e.up.size() != gate_up || e.down.size() != down)
                __builtin_trap();
            sum += touch(e.gate) + touch(e.up) + touch(e.down);
        }
        uint64_t sh_gate_up = uint64_t(m.d_ff_shared) *
                              moevk::quant::row_bytes(l.moe.shared_formats.gate_up, m.d_model);
        uint64_t sh_down = m.d_ff_shared
                               ? uint64_t(m.d_model) * moevk::quant::row_bytes(
                                                           l.moe.shared_formats.down, m.d_ff_shared)
                               : 0;
        const moevk::moe::ExpertView& sh = l.moe.shared;
        if (sh.gate.size() != sh_gate_up || sh.up.size() != sh_gate_up || sh.down.size() != sh_down)
            __builtin_trap();
        sum += touch(sh.gate) + touch(sh.up) + touch(sh.down);
        sum += touch(l.moe.shared_gate, m.d_ff_shared && m.shared_gated ? m.d_model : 0);
        // gpt-oss's pieces: whole where the config has them, absent otherwise.
        sum += touch(l.o_bias, c.output_bias ? c.d_model : 0) + touch(l.sinks, c.attention_sinks ? c.n_heads : 0);
        sum += touch(l.moe.router_bias, m.router_bias ? m.n_experts : 0);
        size_t per_expert = m.expert_biases ? m.n_experts : 0;
        sum += touch(l.moe.gate_bias, per_expert * m.d_ff) + touch(l.moe.up_bias, per_expert * m.d_ff);
        sum += touch(l.moe.down_bias, per_expert * m.d_model);
    }
    if (!c.sliding_layers.empty() && (c.sliding_layers.size() != c.n_layers || c.sliding_window == 0))
        __builtin_trap();
    return sum;
}

// What make_tokenizer (engine/api/model.cpp) does with the same file.
void use_text(const moevk::gguf::File& f) {
    moevk::text::Tokenizer tok = moevk::text::Tokenizer::from_file(f);
    std::optional<std::string> source = f.get_string("tokenizer.chat_template");
    if (!source) return;
    moevk::text::ChatTemplate t = moevk::text::ChatTemplate::detect(*source);
    moevk::text::ChatOptions o;
    o.bos_token = tok.special_text(tok.bos());
    o.eos_token = tok.special_text(tok.eos());
    moevk::text::ChatMessage messages[] = {{moevk::text::Role::User, "Hi"}};
    std::string prompt = t.render(messages, o);
    tok.encode(prompt, !t.writes_bos() && tok.add_bos(), true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    g_input = {data, size};
    try {
        moevk::model::ModelFile mf =
            moevk::model::ModelFile::from(moevk::gguf::File::parse(g_input, "fuzz-model.gguf"));
        volatile uint64_t sink = use_model(mf);
        (void)sink;
        try {
            use_text(mf.file());
        } catch (const moevk::Error&) {
            // A model without a usable vocabulary or template still loads (token ids only).
        }
    } catch (const moevk::Error&) {
        // Rejecting a malformed input is the expected outcome.
    }
    return 0;
}
