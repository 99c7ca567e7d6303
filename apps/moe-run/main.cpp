// moe-run: one-shot generation from a GGUF model. Feeds the prompt as one batch, then generates
// greedily one token at a time; can dump the logits and the experts each layer selected.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>

#include "experts/budget.h"
#include "experts/stats.h"
#include "gpu/context.h"
#include "gpu/error.h"
#include "model/model_file.h"
#include "runtime/device_model.h"
#include "runtime/session.h"

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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"moe-run: run a mixture-of-experts GGUF model on a Vulkan device"};
    std::string model_path, prompt, logits_path, experts_path, device_name, kv = "f32";
    std::vector<uint32_t> prompt_tokens;
    uint32_t n_generate = 0, n_ctx = 0, batch = 256;
    int device_index = -1;
    bool validation = false, no_prefetch = false, show_stats = false;
    std::string vram_budget, cache_policy = "lru";
    app.add_option("-m,--model", model_path, "GGUF model file")->required();
    app.add_option("-p,--prompt", prompt, "prompt text (needs a tokenizer; use --tokens until moe-vk has one)");
    app.add_option("--tokens", prompt_tokens, "prompt as token ids, e.g. 1,557,541")->delimiter(',');
    app.add_option("-n,--n-predict", n_generate, "tokens to generate greedily")->capture_default_str();
    app.add_option("--dump-logits", logits_path,
                   "write raw little-endian f32 logits: one row of n_vocab per prompt position, then per generated step");
    app.add_option("--experts", experts_path, "write the selected expert ids per layer and token as JSON");
    app.add_option("--ctx", n_ctx, "context length (default: the model's, at most 4096)");
    app.add_option("--batch", batch, "prompt tokens per forward step")->capture_default_str();
    app.add_option("--kv", kv, "KV cache format: f32 or f16")->capture_default_str();
    app.add_option("--device", device_name, "use the Vulkan device whose name contains this text");
    app.add_option("--device-index", device_index, "use the Vulkan device at this enumeration index");
    app.add_flag("--validation", validation, "run with the Khronos validation layer");
    app.add_option("--vram-budget", vram_budget,
                   "page the experts within this much device memory: bytes (6G, 512M), a share of the experts "
                   "that get a slot (50%), or min");
    app.add_option("--cache-policy", cache_policy, "expert cache policy with --vram-budget: lru or lfu")
        ->capture_default_str();
    app.add_flag("--no-prefetch", no_prefetch, "do not guess and upload the next layer's experts early");
    app.add_flag("--paging-stats", show_stats, "print the paging statistics per layer at the end");
    CLI11_PARSE(app, argc, argv);

    try {
        if (!prompt.empty())
            throw Error(ErrorCode::Unsupported, "text prompts need a tokenizer, which moe-vk does not have yet: "
                                                "pass the prompt as --tokens");
        if (prompt_tokens.empty()) throw Error(ErrorCode::InvalidArgument, "no prompt: pass --tokens");
        if (kv != "f32" && kv != "f16") throw Error(ErrorCode::InvalidArgument, "--kv must be f32 or f16, got " + kv);
        auto policy = experts::parse_policy(cache_policy);
        if (!policy) throw Error(ErrorCode::InvalidArgument, "--cache-policy must be lru or lfu, got " + cache_policy);
        std::optional<experts::VramBudget> budget;
        if (!vram_budget.empty()) budget = experts::parse_vram_budget(vram_budget);

        model::ModelFile model = model::ModelFile::open(model_path);
        std::cerr << model_path << ": " << model::describe(model.config()) << "\n";
        gpu::ContextOptions options;
        options.device.name_contains = device_name;
        if (device_index >= 0) options.device.index = static_cast<uint32_t>(device_index);
        options.validation = validation;
        options.on_validation_message = [](const std::string& m) { std::cerr << "validation: " << m << "\n"; };
        auto ctx = gpu::Context::create(options);
        runtime::DeviceModel device_model(*ctx, model, runtime::DeviceModelOptions{.page_experts = budget.has_value()});
        std::cerr << "device: " << ctx->info().name << ", " << (device_model.bytes() >> 20) << " MiB of weights"
                  << (budget ? " resident, the routed experts paged" : "") << "\n";

        runtime::SessionOptions so;
        so.n_ctx = n_ctx;
        so.max_batch = batch;
        so.kv_format = kv == "f16" ? runtime::KvFormat::F16 : runtime::KvFormat::F32;
        so.record_experts = !experts_path.empty();
        so.vram_budget = budget;
        so.cache_policy = *policy;
        so.prefetch = !no_prefetch;
        runtime::Session session(*ctx, device_model, so);
        if (const experts::SlotPlan* plan = session.slot_plan())
            std::cerr << "paging: " << experts::describe(*plan) << "; " << experts::policy_name(*policy)
                      << (no_prefetch ? ", no prefetch" : ", prefetch") << "\n";
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
        for (uint32_t i = 0; i < n_generate; ++i) {
            uint32_t next = argmax(last);
            generated.push_back(next);
            std::cout << next << (i + 1 < n_generate ? " " : "\n") << std::flush;
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
        if (n_generate > 1) std::cerr << "; generation: " << (n_generate - 1) / gen_s << " tokens/s";
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
