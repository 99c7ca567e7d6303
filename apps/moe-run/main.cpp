// moe-run: one-shot generation from a GGUF model. Feeds the prompt as one batch, then generates
// greedily one token at a time and prints the text; can dump the logits and the experts each
// layer selected. --tokenize / --detokenize only use the file's vocabulary (no device, no
// tensors), so they work on vocabulary-only GGUF files too.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>

#include "gguf/gguf.h"
#include "../common/device_flags.h"
#include "../common/paging_flags.h"
#include "experts/stats.h"
#include "gpu/context.h"
#include "gpu/error.h"
#include "model/model_file.h"
#include "runtime/device_model.h"
#include "runtime/session.h"
#include "text/detokenizer.h"
#include "text/tokenizer.h"

using namespace moevk;

namespace {

uint32_t argmax(std::span<const float> row) {
    return static_cast<uint32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

void append_experts(nlohmann::json& layers, const std::vector<std::vector<uint32_t>>& step, uint32_t top_k) {
    if (layers.empty()) layers = nlohmann::json::array();
    for (size_t l = 0; l < step.size(); ++l) {
        if (layers.size() <= l) layers.push_back(nlohmann::json::array());
        for (size_t t = 0; t * top_k < step[l].size(); ++t)
            layers[l].push_back(std::vector<uint32_t>(step[l].begin() + t * top_k, step[l].begin() + (t + 1) * top_k));
    }
}

// --tokenize / --detokenize: the vocabulary alone.
int run_text_tool(const std::string& model_path, const std::string* tokenize,
                  const std::vector<uint32_t>& detokenize, bool add_bos, bool special) {
    const text::Tokenizer tok = text::Tokenizer::from_file(gguf::File::open(model_path));
    if (tokenize) {
        std::vector<uint32_t> ids = tok.encode(*tokenize, add_bos, special);
        for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
        std::cout << "\n";
    } else {
        std::cout << tok.decode(detokenize, special) << "\n";
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"moe-run: run a mixture-of-experts GGUF model on a Vulkan device"};
    std::string model_path, prompt, logits_path, experts_path, kv = "f32", tokenize_text;
    std::vector<uint32_t> prompt_tokens, detokenize_ids;
    uint32_t n_generate = 0, n_ctx = 0, batch = 256;
    apps::DeviceFlags device;
    bool add_bos = false, special = false, print_ids = false, ignore_eos = false;
    app.add_option("-m,--model", model_path, "GGUF model file (vocabulary-only will do for --tokenize / --detokenize)")
        ->required();
    app.add_option("-p,--prompt", prompt, "prompt text, tokenised with the model's vocabulary (BOS as it asks)");
    bool show_stats = false;
    apps::PagingFlags paging;
    app.add_option("--tokens", prompt_tokens, "prompt as token ids, e.g. 1,557,541")->delimiter(',');
    app.add_flag("--print-ids", print_ids, "print the generated token ids instead of their text");
    app.add_flag("--ignore-eos", ignore_eos, "keep generating past end-of-generation tokens");
    CLI::Option* tokenize_opt = app.add_option("--tokenize", tokenize_text, "print the token ids of TEXT and exit");
    CLI::Option* detokenize_opt =
        app.add_option("--detokenize", detokenize_ids, "print the text of token ids, e.g. 1,557,541, and exit")
            ->delimiter(',');
    tokenize_opt->excludes(detokenize_opt);
    app.add_flag("--add-bos", add_bos, "with --tokenize: put BOS first");
    app.add_flag("--special", special,
                 "with --tokenize: parse special tokens written in TEXT; with --detokenize: show control tokens");
    app.add_option("-n,--n-predict", n_generate, "tokens to generate greedily")->capture_default_str();
    app.add_option("--dump-logits", logits_path,
                   "write raw little-endian f32 logits: one row of n_vocab per prompt position, then per generated step");
    app.add_option("--experts", experts_path, "write the selected expert ids per layer and token as JSON");
    app.add_option("--ctx", n_ctx, "context length (default: the model's, at most 4096)");
    app.add_option("--batch", batch, "prompt tokens per forward step")->capture_default_str();
    app.add_option("--kv", kv, "KV cache format: f32 or f16")->capture_default_str();
    apps::add_device_flags(app, device);
    apps::add_paging_flags(app, paging);
    app.add_flag("--paging-stats", show_stats, "print the paging statistics per layer at the end");
    CLI11_PARSE(app, argc, argv);

    try {
        if (*tokenize_opt || *detokenize_opt)
            return run_text_tool(model_path, *tokenize_opt ? &tokenize_text : nullptr, detokenize_ids, add_bos,
                                 special);
        if (!prompt.empty() && !prompt_tokens.empty())
            throw Error(ErrorCode::InvalidArgument, "pass the prompt as -p or as --tokens, not both");
        if (prompt.empty() && prompt_tokens.empty())
            throw Error(ErrorCode::InvalidArgument, "no prompt: pass -p TEXT or --tokens");
        if (kv != "f32" && kv != "f16") throw Error(ErrorCode::InvalidArgument, "--kv must be f32 or f16, got " + kv);

        runtime::SessionOptions so;
        apps::apply_paging_flags(paging, so);
        model::ModelFile model = model::ModelFile::open(model_path);
        std::cerr << model_path << ": " << model::describe(model.config()) << "\n";
        // A prompt given as ids still runs where moe-vk cannot read the vocabulary; the output is
        // then ids.
        std::optional<text::Tokenizer> tokenizer;
        try {
            tokenizer.emplace(text::Tokenizer::from_file(model.file()));
        } catch (const Error& e) {
            if (!prompt.empty()) throw;
            std::cerr << "moe-run: no tokenizer (" << e.what() << "), printing token ids\n";
            print_ids = true;
        }
        if (!prompt.empty()) {
            prompt_tokens = tokenizer->encode(prompt, tokenizer->add_bos(), false);
            if (prompt_tokens.empty()) throw Error(ErrorCode::InvalidArgument, "the prompt gives no tokens");
        }
        auto ctx = gpu::Context::create(apps::context_options(device));
        runtime::DeviceModel device_model(*ctx, model, runtime::DeviceModelOptions{.page_experts = so.vram_budget.has_value()});
        std::cerr << "device: " << ctx->info().name << ", " << (device_model.bytes() >> 20) << " MiB of weights"
                  << (so.vram_budget ? " resident, the routed experts paged" : "") << "\n";

        so.n_ctx = n_ctx;
        so.max_batch = batch;
        so.kv_format = kv == "f16" ? runtime::KvFormat::F16 : runtime::KvFormat::F32;
        so.record_experts = !experts_path.empty();
        runtime::Session session(*ctx, device_model, so);
        if (const experts::SlotPlan* plan = session.slot_plan())
            std::cerr << "paging: " << apps::describe_paging(*plan, so) << "\n";
        const uint32_t n_vocab = model.config().n_vocab;

        std::ofstream logits_out;
        if (!logits_path.empty()) {
            logits_out.open(logits_path, std::ios::binary);
            if (!logits_out) throw Error(ErrorCode::InvalidArgument, "cannot write " + logits_path);
        }
        auto dump = [&](const std::vector<float>& rows) {
            if (logits_out) logits_out.write(reinterpret_cast<const char*>(rows.data()), rows.size() * 4);
        };
        nlohmann::json experts;

        auto t0 = std::chrono::steady_clock::now();
        std::vector<float> logits = session.eval(prompt_tokens, !logits_path.empty());
        auto t1 = std::chrono::steady_clock::now();
        dump(logits);
        if (so.record_experts) append_experts(experts, session.selected_experts(), model.config().moe.top_k);

        std::vector<uint32_t> generated;
        std::span<const float> last(logits.data() + logits.size() - n_vocab, n_vocab);
        // The generated tokens continue the prompt's text, so the first one keeps its space.
        std::optional<text::Detokenizer> detok;
        if (!print_ids) detok.emplace(*tokenizer, false, false);
        for (uint32_t i = 0; i < n_generate; ++i) {
            uint32_t next = argmax(last);
            if (tokenizer && !ignore_eos && tokenizer->is_eog(next)) {
                if (detok) std::cout << detok->flush();
                std::cout << "\n";
                break;
            }
            generated.push_back(next);
            if (detok) {
                std::cout << detok->push(next);
                if (i + 1 == n_generate) std::cout << detok->flush() << "\n";
                std::cout << std::flush;
            } else {
                std::cout << next << (i + 1 < n_generate ? " " : "\n") << std::flush;
            }
            if (i + 1 == n_generate) break;
            logits = session.eval(std::span<const uint32_t>(&next, 1));
            dump(logits);
            if (so.record_experts) append_experts(experts, session.selected_experts(), model.config().moe.top_k);
            last = std::span<const float>(logits.data(), n_vocab);
        }
        auto t2 = std::chrono::steady_clock::now();

        if (!experts_path.empty()) {
            std::ofstream out(experts_path);
            out << nlohmann::json{{"layers", experts}}.dump() << "\n";
            if (!out) throw Error(ErrorCode::InvalidArgument, "cannot write " + experts_path);
        }
        double prompt_s = std::chrono::duration<double>(t1 - t0).count();
        double gen_s = std::chrono::duration<double>(t2 - t1).count();
        std::cerr << "prompt: " << prompt_tokens.size() << " tokens in " << prompt_s << " s";
        // The first generated token comes from the prompt's logits; each later one took a step.
        if (generated.size() > 1) std::cerr << "; generation: " << (generated.size() - 1) / gen_s << " tokens/s";
        std::cerr << "\n";
        if (session.paged()) {
            experts::LayerStats t = session.paging_stats().total();
            std::cerr << "paging: hit rate " << 100.0 * t.hit_rate() << "%, " << t.bytes_uploaded / 1048576.0
                      << " MiB uploaded, " << 1e3 * t.wait_seconds << " ms waiting for uploads";
            if (t.prefetched) std::cerr << ", prefetch accuracy " << 100.0 * t.prefetch_accuracy() << "%";
            std::cerr << "\n";
            if (show_stats) std::cerr << experts::stats_table(session.paging_stats());
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "moe-run: error: " << e.what() << "\n";
        return 1;
    }
}
