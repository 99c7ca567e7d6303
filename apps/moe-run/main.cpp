// moe-run: one-shot generation from a GGUF model. Feeds the prompt as one batch, then generates
// greedily one token at a time and prints the text; can dump the logits and the experts each
// layer selected. --tokenize / --detokenize only use the file's vocabulary (no device, no
// tensors), so they work on vocabulary-only GGUF files too. Built on the public API only.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>

#include <moevk/moevk.hpp>

#include "../common/device_flags.h"
#include "../common/paging_flags.h"
#include "../common/session_flags.h"
#include "../common/token_ids_flag.h"

using namespace moevk;

namespace {

// --tokenize / --detokenize: the vocabulary alone.
int run_text_tool(const std::string& model_path, const std::string* tokenize, const std::vector<int32_t>& detokenize,
                  bool add_bos, bool special) {
    Tokenizer tok = Tokenizer::load(model_path);
    if (tokenize) {
        uint32_t flags = (add_bos ? MOEVK_TOKENIZE_ADD_BOS : 0) | (special ? MOEVK_TOKENIZE_PARSE_SPECIAL : 0);
        std::vector<int32_t> ids = tok.tokenize(*tokenize, flags);
        for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
        std::cout << "\n";
    } else {
        std::cout << tok.detokenize(detokenize, special ? MOEVK_TEXT_RENDER_SPECIAL : 0) << "\n";
    }
    std::cout.flush();
    if (!std::cout) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "writing to standard output failed");
    return 0;
}

// --tokens checked before the device and the model load: a typo should not cost a minute of
// loading. The ids' range comes from the file's vocabulary where moe-vk can read it (the session
// checks them again against the embedding).
void check_token_ids(const std::string& model_path, const std::vector<int32_t>& ids) {
    for (int32_t t : ids)
        if (t < 0) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "--tokens: token id " + std::to_string(t) + " is negative");
    if (ids.empty()) return;
    uint32_t n_vocab = 0;
    try {
        n_vocab = Tokenizer::load(model_path).info().n_vocab;
    } catch (const Exception&) {
        return;  // no vocabulary moe-vk reads: the model load says what is wrong with the file
    }
    for (int32_t t : ids)
        if (uint32_t(t) >= n_vocab)
            throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "--tokens: token id " + std::to_string(t) + " is past the " +
                                                              std::to_string(n_vocab) + " tokens of " + model_path + "'s vocabulary");
}

// Appends the last step's [layer][token][k] experts to the JSON's per-layer lists.
void append_experts(nlohmann::json& layers, const Session& session, const moevk_model_info& info, uint32_t tokens) {
    uint32_t T = 0;
    std::vector<uint32_t> ids = session.last_experts(info.n_layers, info.top_k, tokens, T);
    if (layers.empty()) layers = nlohmann::json::array();
    for (uint32_t l = 0; l < info.n_layers; ++l) {
        if (layers.size() <= l) layers.push_back(nlohmann::json::array());
        for (uint32_t t = 0; t < T; ++t) {
            auto first = ids.begin() + (size_t(l) * T + t) * info.top_k;
            layers[l].push_back(std::vector<uint32_t>(first, first + info.top_k));
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"moe-run: run a mixture-of-experts GGUF model on a Vulkan device"};
    std::string model_path, prompt, logits_path, experts_path, kv = "f32", tokenize_text;
    std::vector<int32_t> prompt_tokens, detokenize_ids;
    uint32_t n_generate = 0, n_ctx = 0, batch = 256;
    apps::DeviceFlags device;
    bool add_bos = false, special = false, print_ids = false, ignore_eos = false;
    app.add_option("-m,--model", model_path, "GGUF model file (vocabulary-only will do for --tokenize / --detokenize)")
        ->required();
    app.add_option("-p,--prompt", prompt, "prompt text, tokenised with the model's vocabulary (BOS as it asks)");
    bool show_stats = false;
    apps::PagingFlags paging;
    std::string tokens_text, detokenize_text;
    CLI::Option* tokens_opt =
        apps::add_token_ids_option(app, "--tokens", tokens_text, "prompt as token ids, e.g. 1,557,541");
    app.add_flag("--print-ids", print_ids, "print the generated token ids instead of their text");
    app.add_flag("--ignore-eos", ignore_eos, "keep generating past end-of-generation tokens");
    CLI::Option* tokenize_opt = app.add_option("--tokenize", tokenize_text, "print the token ids of TEXT and exit");
    CLI::Option* detokenize_opt = apps::add_token_ids_option(app, "--detokenize", detokenize_text,
                                                             "print the text of token ids, e.g. 1,557,541, and exit");
    tokenize_opt->excludes(detokenize_opt);
    app.add_flag("--add-bos", add_bos, "with --tokenize: put BOS first");
    app.add_flag("--special", special,
                 "with --tokenize: parse special tokens written in TEXT; with --detokenize: show control tokens");
    app.add_option("-n,--n-predict", n_generate, "tokens to generate greedily")->capture_default_str();
    app.add_option("--dump-logits", logits_path,
                   "write raw little-endian f32 logits: one row of n_vocab per prompt position, then per generated step");
    app.add_option("--experts", experts_path, "write the selected expert ids per layer and token as JSON");
    CLI::Option* ctx_opt = app.add_option("--ctx", n_ctx, "context length (default: the model's, at most 4096)")
                                ->check(CLI::Range(1u, apps::kMaxContext));
    app.add_option("--batch", batch, "prompt tokens per forward step")->check(CLI::Range(1u, 65536u))->capture_default_str();
    app.add_option("--kv", kv, "KV cache format")->check(CLI::IsMember({"f32", "f16"}))->capture_default_str();
    apps::add_device_flags(app, device);
    apps::add_paging_flags(app, paging);
    app.add_flag("--paging-stats", show_stats, "print the paging statistics per layer at the end");
    CLI11_PARSE(app, argc, argv);
    apps::parse_token_ids(tokens_text, prompt_tokens);
    apps::parse_token_ids(detokenize_text, detokenize_ids);

    try {
        if (*tokenize_opt || *detokenize_opt)
            return run_text_tool(model_path, *tokenize_opt ? &tokenize_text : nullptr, detokenize_ids, add_bos, special);
        if (!prompt.empty() && *tokens_opt) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "pass the prompt as -p or as --tokens, not both");
        if (prompt.empty() && prompt_tokens.empty())
            throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "no prompt: pass -p TEXT or --tokens");
        check_token_ids(model_path, prompt_tokens);

        std::string device_name;
        Engine engine(apps::engine_options(device, device_name));
        moevk_model_options mo = moevk_model_options_default();
        apps::apply_paging_flags(paging, mo);
        mo.kv_format = kv == "f16" ? MOEVK_KV_F16 : MOEVK_KV_F32;
        Model model(engine, model_path, mo);
        moevk_model_info info = model.info();
        std::cerr << model_path << ": " << info.description << "\n";
        if (*ctx_opt) apps::warn_past_training_context("moe-run", n_ctx, info);
        // A prompt given as ids still runs where moe-vk cannot read the vocabulary; the output is
        // then ids.
        std::optional<Tokenizer> tokenizer;
        if (moevk_model_get_tokenizer(model.get())) {
            tokenizer.emplace(model.tokenizer());
        } else {
            if (!prompt.empty()) throw Exception(MOEVK_ERROR_UNSUPPORTED, std::string("no vocabulary: ") + info.vocab_error);
            std::cerr << "moe-run: no tokenizer (" << info.vocab_error << "), printing token ids\n";
            print_ids = true;
        }
        if (!prompt.empty()) {
            prompt_tokens = tokenizer->tokenize(prompt, MOEVK_TOKENIZE_DEFAULT_BOS);
            if (prompt_tokens.empty()) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "the prompt gives no tokens");
        }
        std::cerr << "device: " << engine.device_info().name << ", " << (info.device_bytes >> 20) << " MiB of weights"
                  << (info.experts_paged ? " resident, the routed experts paged" : "") << "\n";

        moevk_session_options so = moevk_session_options_default();
        so.n_ctx = n_ctx;
        so.max_batch = batch;
        so.record_experts = !experts_path.empty();
        so.sampling.temperature = 0;  // greedy: the highest logit, ties to the lower id
        Session session(model, so);
        moevk_session_info sinfo = session.info();
        if (info.experts_paged) std::cerr << "paging: " << apps::describe_paging(sinfo, paging) << "\n";

        std::ofstream logits_out;
        if (!logits_path.empty()) {
            logits_out.open(logits_path, std::ios::binary);
            if (!logits_out) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "cannot write " + logits_path);
        }
        auto dump = [&](const std::vector<float>& rows) {
            if (!logits_out.is_open()) return;
            logits_out.write(reinterpret_cast<const char*>(rows.data()), std::streamsize(rows.size() * 4));
            if (!logits_out) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "writing " + logits_path + " failed");
        };
        nlohmann::json experts;

        auto t0 = std::chrono::steady_clock::now();
        dump(session.eval(prompt_tokens, !logits_path.empty()));
        auto t1 = std::chrono::steady_clock::now();
        if (so.record_experts) append_experts(experts, session, info, uint32_t(prompt_tokens.size()));

        std::vector<int32_t> generated;
        // The generated tokens continue the prompt's text, so the first one keeps its space.
        std::optional<Detokenizer> detok;
        if (!print_ids) detok.emplace(*tokenizer, MOEVK_TEXT_CONTINUATION);
        std::string end = "length limit";
        for (uint32_t i = 0; i < n_generate; ++i) {
            int32_t next = session.sample();
            if (tokenizer && !ignore_eos && tokenizer->is_eog(next)) {
                end = "end of generation";
                break;
            }
            generated.push_back(next);
            if (detok)
                std::cout << detok->push(next);
            else
                std::cout << next << (i + 1 < n_generate ? " " : "");
            std::cout << std::flush;
            if (i + 1 == n_generate) break;
            if (session.info().position >= session.info().n_ctx) {
                end = "context full";
                break;
            }
            std::vector<int32_t> one{next};
            dump(session.eval(one, !logits_path.empty()));
            if (so.record_experts) append_experts(experts, session, info, 1);
        }
        if (detok) std::cout << detok->flush();
        std::cout << "\n" << std::flush;
        if (!std::cout) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "writing the output failed");
        auto t2 = std::chrono::steady_clock::now();

        if (!experts_path.empty()) {
            std::ofstream out(experts_path);
            out << nlohmann::json{{"layers", experts}}.dump() << "\n";
            out.close();
            if (!out) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "writing " + experts_path + " failed");
        }
        if (logits_out.is_open()) {
            logits_out.close();
            if (!logits_out) throw Exception(MOEVK_ERROR_INVALID_ARGUMENT, "writing " + logits_path + " failed");
        }
        double prompt_s = std::chrono::duration<double>(t1 - t0).count();
        double gen_s = std::chrono::duration<double>(t2 - t1).count();
        std::cerr << "prompt: " << prompt_tokens.size() << " tokens in " << prompt_s << " s";
        // The first generated token comes from the prompt's logits; each later one took a step.
        if (generated.size() > 1) std::cerr << "; generation: " << (generated.size() - 1) / gen_s << " tokens/s";
        if (n_generate) std::cerr << "; " << generated.size() << " generated, ended by " << end;
        std::cerr << "\n";
        if (info.experts_paged && session.info().paged) {
            moevk_session_stats st = session.stats();
            uint64_t demanded = st.expert_hits + st.expert_misses;
            std::cerr << "paging: hit rate " << (demanded ? 100.0 * st.expert_hits / demanded : 100.0) << "%, "
                      << st.bytes_uploaded / 1048576.0 << " MiB uploaded, " << 1e3 * st.upload_wait_seconds
                      << " ms waiting for uploads";
            if (st.prefetched) std::cerr << ", prefetch accuracy " << 100.0 * st.prefetch_used / st.prefetched << "%";
            std::cerr << "\n";
            if (show_stats) std::cerr << session.paging_report();
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "moe-run: error: " << e.what() << "\n";
        return 1;
    }
}
