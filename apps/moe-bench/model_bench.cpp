#include "model_bench.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "gpu/error.h"
#include "model/model_file.h"
#include "runtime/device_model.h"
#include "runtime/session.h"

namespace moebench {

using namespace moevk;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint32_t argmax(const std::vector<float>& v) {
    return static_cast<uint32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

ModelResult bench_model(gpu::Context& ctx, const std::string& path, uint32_t prompt_tokens,
                        uint32_t generated_tokens, double min_seconds) {
    model::ModelFile model = model::ModelFile::open(path);
    runtime::DeviceModel device(ctx, model);
    const model::ModelConfig& c = model.config();
    ModelResult r;
    r.path = path;
    r.description = model::describe(c);
    r.file_bytes = std::filesystem::file_size(path);
    r.active_bytes = model.active_weight_bytes();
    r.prompt_tokens = prompt_tokens;
    r.generated_tokens = generated_tokens;

    runtime::SessionOptions options;
    options.n_ctx = prompt_tokens + generated_tokens + 1;
    options.max_batch = std::min<uint32_t>(prompt_tokens, 512);
    runtime::Session session(ctx, device, options);
    std::vector<uint32_t> prompt(prompt_tokens);
    for (uint32_t i = 0; i < prompt_tokens; ++i) prompt[i] = (i * 7919u + 13u) % c.n_vocab;

    std::vector<float> last;
    r.prompt_seconds = summarize(repeat(
        [&] {
            session.reset();
            auto t0 = std::chrono::steady_clock::now();
            last = session.eval(prompt, false);
            return seconds_since(t0);
        },
        min_seconds, 1));
    // Greedy generation after the prompt: each step is one token through every layer.
    std::vector<double> steps;
    for (uint32_t i = 0; i < generated_tokens; ++i) {
        uint32_t next = argmax(last);
        auto t0 = std::chrono::steady_clock::now();
        last = session.eval(std::span<const uint32_t>(&next, 1), false);
        if (i > 0) steps.push_back(seconds_since(t0));  // the first step warms the decode pipelines
    }
    r.generate_seconds = summarize(steps);
    return r;
}

void print_model_table(std::ostream& out, const gpu::DeviceInfo& device, const ProbeResult& probe,
                       const std::vector<ModelResult>& results) {
    out << "device: " << device.name << "\n";
    char line[512];
    std::snprintf(line, sizeof line, "copy probe: %.1f GB/s\n\n", probe.gbps());
    out << line;
    std::snprintf(line, sizeof line, "%-34s %9s %9s %7s %11s %7s %11s %9s %7s\n", "model", "file MB", "active MB",
                  "prompt", "prompt t/s", "gen", "gen t/s", "gen GB/s", "%copy");
    out << line;
    for (const ModelResult& r : results) {
        double prompt_tps = r.prompt_tokens / r.prompt_seconds.median;
        double gen_tps = r.generate_seconds.samples ? 1.0 / r.generate_seconds.median : 0;
        double gbps = r.active_bytes * gen_tps / 1e9;
        std::string name = std::filesystem::path(r.path).filename().string();
        std::snprintf(line, sizeof line, "%-34s %9.1f %9.1f %7u %11.2f %7u %11.2f %9.2f %6.1f%%\n", name.c_str(),
                      r.file_bytes / 1e6, r.active_bytes / 1e6, r.prompt_tokens, prompt_tps, r.generated_tokens,
                      gen_tps, gbps, 100.0 * gbps / probe.gbps());
        out << line;
    }
}

nlohmann::json model_json(const gpu::DeviceInfo& device, const ProbeResult& probe,
                          const std::vector<ModelResult>& results) {
    nlohmann::json j;
    j["device"] = device.name;
    j["copy_probe_gbps"] = probe.gbps();
    auto summary = [](const Summary& s) {
        return nlohmann::json{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"samples", s.samples}};
    };
    for (const ModelResult& r : results)
        j["models"].push_back({{"path", r.path},
                               {"description", r.description},
                               {"file_bytes", r.file_bytes},
                               {"active_bytes_per_token", r.active_bytes},
                               {"prompt_tokens", r.prompt_tokens},
                               {"prompt_seconds", summary(r.prompt_seconds)},
                               {"generated_tokens", r.generated_tokens},
                               {"generate_seconds_per_token", summary(r.generate_seconds)}});
    return j;
}

model::SyntheticSpec synthetic_shape(const std::string& name) {
    model::SyntheticSpec s;
    if (name == "mixtral-3b") {
        // Mixtral 8x7B's layout (8 experts, top-2, GQA 4:1, head 128) at half its width and
        // depth: 3.8 GB in Q4_K, with Q6_K for ffn_down and the output as Q4_K_M files have them.
        s.architecture = "llama";
        s.n_layers = 16;
        s.d_model = 2048;
        s.n_heads = 16;
        s.n_kv_heads = 4;
        s.head_dim = 128;
        s.n_experts = 8;
        s.top_k = 2;
        s.d_ff = 7168;
        s.rope_base = 1e6f;
        s.attn_format = s.gate_up_format = s.embed_format = quant::WeightFormat::Q4_K;
        s.down_format = s.output_format = quant::WeightFormat::Q6_K;
        s.distinct_experts = 1;
    } else if (name == "mixtral-mid") {
        // Mixtral 8x7B's proportions (ff = 3.5 d, heads of 128, GQA 4:1, 8 experts, top-2) at a
        // quarter of its width and depth: small enough for a CPU device to run a prompt, large
        // enough that the expert weights, not the fixed cost of a step, set the speed.
        s.architecture = "llama";
        s.n_layers = 8;
        s.d_model = 1024;
        s.n_heads = 8;
        s.n_kv_heads = 2;
        s.head_dim = 128;
        s.n_experts = 8;
        s.top_k = 2;
        s.d_ff = 3584;
        s.rope_base = 1e6f;
        s.attn_format = s.gate_up_format = s.embed_format = quant::WeightFormat::Q4_K;
        s.down_format = s.output_format = quant::WeightFormat::Q6_K;
    } else if (name == "tiny") {
        s.architecture = "llama";
        s.n_layers = 2;
        s.d_model = 256;
        s.n_heads = 4;
        s.n_kv_heads = 2;
        s.head_dim = 64;
        s.n_experts = 8;
        s.top_k = 2;
        s.d_ff = 512;
        s.attn_format = s.gate_up_format = s.embed_format = quant::WeightFormat::Q4_K;
        s.down_format = s.output_format = quant::WeightFormat::Q6_K;
    } else {
        throw Error(ErrorCode::InvalidArgument, "unknown synthetic model shape \"" + name + "\": use mixtral-3b, mixtral-mid or tiny");
    }
    return s;
}

}  // namespace moebench
