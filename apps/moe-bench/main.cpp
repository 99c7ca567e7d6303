// moe-bench: times the MoE layer's stages on a Vulkan device at the shapes of real models, and
// reports GB/s and GFLOP/s next to the device's own copy bandwidth.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <map>
#include <regex>

#include "copy_probe.h"
#include "../common/default_model.h"
#include "../common/device_flags.h"
#include "gguf/gguf.h"
#include "experts/budget.h"
#include "experts/policy.h"
#include "gpu/context.h"
#include "gpu/error.h"
#include "layer_bench.h"
#include "model/synthetic.h"
#include "model_bench.h"
#include "paging_bench.h"
#include "plot.h"
#include "report.h"

using namespace moevk;

namespace {

// moe-bench runs on the engine's internals; the device flags are the apps' common ones.
gpu::ContextOptions context_options(const apps::DeviceFlags& flags) {
    gpu::ContextOptions options;
    options.device.name_contains = apps::device_name(flags);
    if (flags.index >= 0) options.device.index = static_cast<uint32_t>(flags.index);
    options.validation = flags.validation;
    options.on_validation_message = [](const std::string& m) { std::cerr << "validation: " << m << "\n"; };
    return options;
}


// MoE layer shapes of real models (one layer; d_model, expert d_ff, experts, top-k).
const std::map<std::string, moe::MoeConfig> kShapes = {
    {"mixtral", {.d_model = 4096, .d_ff = 14336, .n_experts = 8, .top_k = 2}},   // Mixtral 8x7B
    {"qwen3", {.d_model = 2048, .d_ff = 768, .n_experts = 128, .top_k = 8}},     // Qwen3-30B-A3B
    {"olmoe", {.d_model = 2048, .d_ff = 1024, .n_experts = 64, .top_k = 8, .renormalize = false}},  // OLMoE-1B-7B
    // gpt-oss-20b: a router bias, softmax over the selected 4, biased experts with the clamped
    // SwiGLU; its files store the experts in MXFP4.
    {"gpt-oss-20b",
     {.d_model = 2880, .d_ff = 2880, .n_experts = 32, .top_k = 4, .gating = moevk::moe::Gating::SoftmaxSelected,
      .renormalize = false, .router_bias = true, .expert_biases = true,
      .activation = moevk::moe::Activation::SwiGluClamped}},
};

moe::MoeConfig parse_shape(const std::string& name) {
    auto it = kShapes.find(name);
    if (it != kShapes.end()) return it->second;
    std::smatch m;
    static const std::regex custom(R"((\d+)x(\d+)x(\d+)x(\d+))");
    if (std::regex_match(name, m, custom))
        return {.d_model = uint32_t(std::stoul(m[1])), .d_ff = uint32_t(std::stoul(m[2])),
                .n_experts = uint32_t(std::stoul(m[3])), .top_k = uint32_t(std::stoul(m[4]))};
    throw Error(ErrorCode::InvalidArgument,
                "unknown shape \"" + name +
                    "\": use mixtral, qwen3, olmoe, gpt-oss-20b or DxFFxExK (e.g. 1024x512x16x4)");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"moe-bench: MoE layer stages on a Vulkan device, timed with GPU timestamps"};
    std::vector<std::string> shapes = {"mixtral", "qwen3", "olmoe"};
    std::vector<std::string> formats = {"f16", "q8_0"};
    std::vector<uint32_t> token_counts = {1, 512};
    double min_time = 1.0;
    std::string json_path;
    apps::DeviceFlags device;
    bool list = false;
    uint64_t seed = 1;
    std::vector<std::string> model_paths;
    std::string write_model, model_shape = "mixtral-3b", vocab_path;
    uint32_t prompt_tokens = 512, generated_tokens = 32;
    std::vector<std::string> budgets, policies = {"lru", "lfu"}, prefetch = {"on", "off"};
    std::string plot_path;
    bool paging_stats = false;
    std::string replot_path;
    app.add_option("--shapes", shapes, "mixtral, qwen3, olmoe, gpt-oss-20b or DxFFxExK")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--formats", formats, "expert weight formats: " + quant::format_names() + " (any case)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--tokens", token_counts, "tokens per run: 1 is decode, more is prefill (default 1,512; 1 on a CPU device)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--min-time", min_time, "seconds of GPU time to repeat each case for")->capture_default_str();
    app.add_option("--json", json_path, "also write the results as JSON to this file");
    apps::add_device_flags(app, device);
    app.add_flag("--list-devices", list, "list the Vulkan devices and exit");
    app.add_option("--seed", seed, "seed for the random weights and inputs")->capture_default_str();
    app.add_option("--model", model_paths, "model mode: time whole GGUF models (prompt and generation tokens/s)")
        ->delimiter(',');
    app.add_option("--prompt-tokens", prompt_tokens, "model mode: prompt length")->capture_default_str();
    app.add_option("--gen-tokens", generated_tokens, "model mode: tokens to generate")->capture_default_str();
    app.add_option("--write-model", write_model, "write a synthetic model of --model-shape to this GGUF file and exit");
    app.add_option("--model-shape", model_shape, "synthetic model shape: mixtral-3b, mixtral-mid or tiny")
        ->capture_default_str();
    app.add_option("--vocab", vocab_path,
                   "--write-model: copy the vocabulary (tokenizer.* keys) of this GGUF file, which also sets "
                   "n_vocab (default: assets/moe-vk-demo.gguf, 1024 tokens; Mixtral's own is "
                   "../shared/fixtures/vocab/ggml-vocab-llama-spm.gguf, 32000)");
    app.add_option("--vram-budget", budgets,
                   "model mode: page the experts through each of these budgets (bytes such as 6G, a share of the "
                   "experts such as 50%, or min), e.g. 100%,75%,50%,25%")
        ->delimiter(',');
    app.add_option("--cache-policy", policies, "paging: cache policies to run (lru, lfu)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--prefetch", prefetch, "paging: prefetch settings to run (on, off)")
        ->delimiter(',')
        ->capture_default_str();
    app.add_option("--replot", replot_path, "draw the paging results of this --json file into --plot, run nothing");
    app.add_flag("--paging-stats", paging_stats, "paging: also print each run's statistics per layer");
    app.add_option("--plot", plot_path, "paging: also draw tokens/s and hit rate against the budget into this SVG");
    CLI11_PARSE(app, argc, argv);

    try {
        if (list) {
            auto devices = gpu::list_devices();
            for (size_t i = 0; i < devices.size(); ++i)
                std::cout << i << ": " << devices[i].name << " (" << gpu::device_kind_name(devices[i].kind) << ", "
                          << (devices[i].device_local_bytes >> 20) << " MiB device-local)\n";
            return 0;
        }
        if (!replot_path.empty()) {
            if (plot_path.empty()) throw Error(ErrorCode::InvalidArgument, "--replot needs --plot FILE.svg");
            std::ifstream in(replot_path);
            if (!in) throw Error(ErrorCode::InvalidArgument, "cannot read " + replot_path);
            std::ofstream out(plot_path);
            out << moebench::paging_svg(moebench::paging_from_json(nlohmann::json::parse(in)));
            if (!out) throw Error(ErrorCode::InvalidArgument, "cannot write " + plot_path);
            return 0;
        }
        if (!write_model.empty()) {
            // A real vocabulary, so that llama.cpp loads the file too (scripts/compare-llamacpp.sh).
            if (vocab_path.empty()) vocab_path = apps::default_model(argv[0]);
            gguf::File vocab = gguf::File::open(vocab_path);
            model::SyntheticSpec spec = moebench::synthetic_shape(model_shape);
            spec.n_vocab = model::vocabulary_size(vocab);
            std::cerr << "writing a synthetic " << model_shape << " model with the " << spec.n_vocab
                      << "-token vocabulary of " << vocab_path << " to " << write_model << "\n";
            gguf::Writer w = model::synthetic_model(spec);
            model::add_vocabulary(w, vocab);
            // llama.cpp sizes a llama-layout file's expert tensors by the dense feed_forward_length,
            // which Mixtral files carry (moe-vk reads expert_feed_forward_length first). Only here:
            // tests rewrite the writer's keys and expect it absent.
            w.set_uint32(spec.architecture + ".feed_forward_length", spec.d_ff);
            w.write(write_model);
            return 0;
        }
        std::vector<std::pair<std::string, moe::MoeConfig>> cases;
        for (const std::string& s : shapes)
            for (const std::string& f : formats) {
                moe::MoeConfig c = parse_shape(s);
                auto format = quant::parse_format(f);
                if (!format)
                    throw Error(ErrorCode::InvalidArgument,
                                "unknown format \"" + f + "\": use one of " + quant::format_names());
                c.format = *format;
                moe::validate(c);
                cases.emplace_back(s, c);
            }
        for (uint32_t t : token_counts)
            if (t == 0) throw Error(ErrorCode::InvalidArgument, "--tokens values must be positive, got 0");

        auto ctx = gpu::Context::create(context_options(device));
        if (app.count("--tokens") == 0 && ctx->info().kind == gpu::DeviceKind::Cpu) {
            // A CPU device needs minutes for one repeat of a Mixtral-shaped prefill.
            token_counts = {1};
            std::cerr << "CPU device: decode only by default; pass --tokens 1,512 to add prefill\n";
        }
        std::cerr << "moe-bench on " << ctx->info().name << ": measuring copy bandwidth\n";
        moebench::ProbeResult probe = moebench::measure_copy_bandwidth(*ctx, min_time);

        if (!model_paths.empty() && !budgets.empty()) {
            if (prompt_tokens == 0 || generated_tokens < 2)
                throw Error(ErrorCode::InvalidArgument, "paging needs --prompt-tokens >= 1 and --gen-tokens >= 2");
            moebench::PagingOptions po;
            po.budgets = budgets;
            for (const std::string& b : budgets) experts::parse_vram_budget(b);  // refuse bad ones before any work
            for (const std::string& p : policies) {
                auto policy = experts::parse_policy(p);
                if (!policy) throw Error(ErrorCode::InvalidArgument, "--cache-policy: unknown policy \"" + p + "\"");
                po.policies.push_back(*policy);
            }
            for (const std::string& p : prefetch) {
                if (p != "on" && p != "off")
                    throw Error(ErrorCode::InvalidArgument, "--prefetch takes on and off, got \"" + p + "\"");
                po.prefetch.push_back(p == "on");
            }
            po.prompt_tokens = prompt_tokens;
            po.generated_tokens = generated_tokens;
            std::cerr << "measuring host-to-device bandwidth\n";
            moebench::ProbeResult upload = moebench::measure_upload_bandwidth(*ctx, min_time);
            std::vector<moebench::PagingResult> results;
            for (const std::string& path : model_paths) {
                std::cerr << "  " << path << "\n";
                auto r = moebench::bench_paging(*ctx, path, po, upload);
                results.insert(results.end(), r.begin(), r.end());
            }
            moebench::print_paging_table(std::cout, ctx->info(), upload, results, paging_stats);
            if (!json_path.empty()) {
                std::ofstream out(json_path);
                out << moebench::paging_json(ctx->info(), upload, results).dump(2) << "\n";
                if (!out) throw Error(ErrorCode::InvalidArgument, "cannot write " + json_path);
            }
            if (!plot_path.empty()) {
                std::ofstream out(plot_path);
                out << moebench::paging_svg(results);
                if (!out) throw Error(ErrorCode::InvalidArgument, "cannot write " + plot_path);
            }
            return 0;
        }
        if (!model_paths.empty()) {
            if (prompt_tokens == 0 || generated_tokens < 2)
                throw Error(ErrorCode::InvalidArgument, "model mode needs --prompt-tokens >= 1 and --gen-tokens >= 2");
            std::vector<moebench::ModelResult> results;
            for (const std::string& path : model_paths) {
                std::cerr << "  " << path << "\n";
                results.push_back(moebench::bench_model(*ctx, path, prompt_tokens, generated_tokens, min_time));
            }
            moebench::print_model_table(std::cout, ctx->info(), probe, results);
            if (!json_path.empty()) {
                std::ofstream out(json_path);
                out << moebench::model_json(ctx->info(), probe, results).dump(2) << "\n";
                if (!out) throw Error(ErrorCode::InvalidArgument, "cannot write " + json_path);
            }
            return 0;
        }

        std::vector<moebench::LayerResult> results;
        for (const auto& [name, config] : cases)
            for (uint32_t t : token_counts) {
                std::cerr << "  " << name << " " << quant::format_name(config.format) << " T=" << t << "\n";
                results.push_back(moebench::bench_layer(*ctx, name, config, t, min_time, seed));
            }
        moebench::print_table(std::cout, ctx->info(), probe, results);
        if (!json_path.empty()) {
            std::ofstream out(json_path);
            out << moebench::to_json(ctx->info(), probe, results).dump(2) << "\n";
            if (!out) throw Error(ErrorCode::InvalidArgument, "cannot write " + json_path);
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "moe-bench: error: " << e.what() << "\n";
        return 1;
    }
}
