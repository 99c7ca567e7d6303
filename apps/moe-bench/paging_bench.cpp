#include "paging_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "experts/oracle.h"
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

nlohmann::json layers_json(const experts::PagingStats& stats) {
    nlohmann::json layers = nlohmann::json::array();
    for (const experts::LayerStats& l : stats.layers)
        layers.push_back({{"hits", l.hits},
                          {"misses", l.misses},
                          {"prefetched", l.prefetched},
                          {"prefetch_used", l.prefetch_used},
                          {"bytes_uploaded", l.bytes_uploaded},
                          {"wait_seconds", l.wait_seconds},
                          {"ffn_passes", l.groups},
                          {"expert_tokens", l.expert_tokens}});
    return layers;
}

// The trace steps before the timed tokens: the prompt and the warm-up token.
constexpr size_t kUntimedSteps = 2;

PagingResult run_case(gpu::Context& ctx, const runtime::DeviceModel& device, const std::string& path,
                      const std::string& budget, runtime::SessionOptions so, const PagingOptions& options,
                      const ProbeResult& upload) {
    const model::ModelConfig& c = device.config();
    runtime::Session session(ctx, device, so);
    PagingResult r;
    r.path = path;
    r.budget = budget;
    r.plan = *session.slot_plan();
    r.paged = session.paged();
    r.policy = r.paged ? experts::policy_name(so.cache_policy) : "-";
    r.prefetch = r.paged && so.prefetch;
    r.upload_gbps = upload.gbps();

    std::vector<uint32_t> prompt(options.prompt_tokens);
    for (uint32_t i = 0; i < prompt.size(); ++i) prompt[i] = (i * 7919u + 13u) % c.n_vocab;
    experts::Trace trace;
    std::vector<float> last = session.eval(prompt, false);
    trace.push_back(experts::trace_step(session.selected_experts(), options.prompt_tokens));
    // The first generated token warms the matrix-vector pipelines and is not counted.
    std::vector<double> steps;
    for (uint32_t i = 0; i < options.generated_tokens; ++i) {
        uint32_t next = argmax(last);
        auto t0 = std::chrono::steady_clock::now();
        last = session.eval(std::span<const uint32_t>(&next, 1), false);
        if (i > 0) steps.push_back(seconds_since(t0));
        trace.push_back(experts::trace_step(session.selected_experts(), 1));
        if (i == 0) session.reset_paging_stats();
    }
    r.timed_tokens = static_cast<uint32_t>(steps.size());
    r.token_seconds = summarize(steps);
    r.layers = session.paging_stats();
    r.stats = r.layers.total();
    r.belady_hit_rate = r.paged ? experts::replay_belady(trace, c.moe.n_experts, r.plan.slots, kUntimedSteps).hit_rate()
                                : 1.0;
    return r;
}

}  // namespace

std::vector<PagingResult> bench_paging(gpu::Context& ctx, const std::string& path, const PagingOptions& options,
                                       const ProbeResult& upload) {
    model::ModelFile model = model::ModelFile::open(path);
    runtime::DeviceModel device(ctx, model, runtime::DeviceModelOptions{.page_experts = true});
    std::vector<PagingResult> out;
    for (const std::string& budget : options.budgets) {
        bool resident = false;  // once a budget holds every expert, policy and prefetch do not matter
        for (experts::CachePolicy policy : options.policies)
            for (bool prefetch : options.prefetch) {
                if (resident) continue;
                runtime::SessionOptions so;
                so.n_ctx = options.prompt_tokens + options.generated_tokens + 1;
                so.max_batch = std::clamp<uint32_t>(options.prompt_tokens, 1, 512);
                so.record_experts = true;
                so.vram_budget = experts::parse_vram_budget(budget);
                so.cache_policy = policy;
                so.prefetch = prefetch;
                out.push_back(run_case(ctx, device, path, budget, so, options, upload));
                resident = !out.back().paged;
            }
    }
    return out;
}

void print_paging_table(std::ostream& out, const gpu::DeviceInfo& device, const ProbeResult& upload,
                        const std::vector<PagingResult>& results, bool per_layer) {
    out << "device: " << device.name << "\n";
    char line[512];
    std::snprintf(line, sizeof line, "host-to-device copy: %.2f GB/s\n", upload.gbps());
    out << line;
    std::string model;
    for (const PagingResult& r : results) {
        if (r.path != model) {
            model = r.path;
            std::snprintf(line, sizeof line, "\n%s: %u experts, %s per slot\n",
                          std::filesystem::path(model).filename().string().c_str(), r.plan.total_experts,
                          experts::format_bytes(r.plan.slot_bytes).c_str());
            out << line;
            std::snprintf(line, sizeof line, "%-8s %6s %6s %4s %9s %7s %7s %7s %9s %8s %10s %7s\n", "budget", "slots",
                          "policy", "pf", "gen t/s", "hit", "belady", "pf acc", "MiB/tok", "wait ms", "bound t/s",
                          "/bound");
            out << line;
        }
        double bound = r.upload_bound();
        char bound_text[32] = "-", ratio_text[32] = "-";
        if (bound > 0) {
            std::snprintf(bound_text, sizeof bound_text, "%.2f", bound);
            std::snprintf(ratio_text, sizeof ratio_text, "%.2f", r.tokens_per_second() / bound);
        }
        std::snprintf(line, sizeof line, "%-8s %6u %6s %4s %9.2f %6.1f%% %6.1f%% %6.1f%% %9.1f %8.1f %10s %7s\n",
                      r.budget.c_str(), r.plan.slots, r.policy.c_str(), r.paged ? (r.prefetch ? "on" : "off") : "-",
                      r.tokens_per_second(), 100.0 * r.stats.hit_rate(), 100.0 * r.belady_hit_rate,
                      100.0 * r.stats.prefetch_accuracy(), r.bytes_per_token() / 1048576.0,
                      r.timed_tokens ? 1e3 * r.stats.wait_seconds / r.timed_tokens : 0.0, bound_text, ratio_text);
        out << line;
    }
    if (!per_layer) return;
    for (const PagingResult& r : results) {
        if (!r.paged) continue;
        out << "\n" << std::filesystem::path(r.path).filename().string() << ", budget " << r.budget << ", "
            << r.policy << ", prefetch " << (r.prefetch ? "on" : "off") << ", " << r.timed_tokens << " tokens:\n"
            << experts::stats_table(r.layers);
    }
}

nlohmann::json paging_json(const gpu::DeviceInfo& device, const ProbeResult& upload,
                           const std::vector<PagingResult>& results) {
    nlohmann::json j;
    j["device"] = device.name;
    j["upload_gbps"] = upload.gbps();
    for (const PagingResult& r : results) {
        const experts::LayerStats& s = r.stats;
        j["paging"].push_back({{"path", r.path},
                               {"budget", r.budget},
                               {"slots", r.plan.slots},
                               {"total_experts", r.plan.total_experts},
                               {"slot_bytes", r.plan.slot_bytes},
                               {"device_bytes", r.plan.device_bytes},
                               {"paged", r.paged},
                               {"policy", r.policy},
                               {"prefetch", r.prefetch},
                               {"timed_tokens", r.timed_tokens},
                               {"seconds_per_token",
                                {{"median", r.token_seconds.median},
                                 {"min", r.token_seconds.min},
                                 {"max", r.token_seconds.max}}},
                               {"tokens_per_second", r.tokens_per_second()},
                               {"hits", s.hits},
                               {"misses", s.misses},
                               {"hit_rate", s.hit_rate()},
                               {"belady_hit_rate", r.belady_hit_rate},
                               {"prefetched", s.prefetched},
                               {"prefetch_used", s.prefetch_used},
                               {"bytes_uploaded", s.bytes_uploaded},
                               {"bytes_per_token", r.bytes_per_token()},
                               {"wait_seconds", s.wait_seconds},
                               {"upload_bound_tokens_per_second", r.upload_bound()},
                               {"layers", layers_json(r.layers)}});
    }
    return j;
}

std::vector<PagingResult> paging_from_json(const nlohmann::json& j) {
    std::vector<PagingResult> out;
    double gbps = j.at("upload_gbps").get<double>();
    for (const nlohmann::json& p : j.at("paging")) {
        PagingResult r;
        r.path = p.at("path").get<std::string>();
        r.budget = p.at("budget").get<std::string>();
        r.plan.slots = p.at("slots").get<uint32_t>();
        r.plan.total_experts = p.at("total_experts").get<uint32_t>();
        r.plan.slot_bytes = p.at("slot_bytes").get<uint64_t>();
        r.plan.device_bytes = p.at("device_bytes").get<uint64_t>();
        r.paged = p.at("paged").get<bool>();
        r.policy = p.at("policy").get<std::string>();
        r.prefetch = p.at("prefetch").get<bool>();
        r.timed_tokens = p.at("timed_tokens").get<uint32_t>();
        const nlohmann::json& t = p.at("seconds_per_token");
        r.token_seconds = {t.at("median").get<double>(), t.at("min").get<double>(), t.at("max").get<double>(),
                           r.timed_tokens};
        r.stats.hits = p.at("hits").get<uint64_t>();
        r.stats.misses = p.at("misses").get<uint64_t>();
        r.stats.prefetched = p.at("prefetched").get<uint64_t>();
        r.stats.prefetch_used = p.at("prefetch_used").get<uint64_t>();
        r.stats.bytes_uploaded = p.at("bytes_uploaded").get<uint64_t>();
        r.stats.wait_seconds = p.at("wait_seconds").get<double>();
        r.belady_hit_rate = p.at("belady_hit_rate").get<double>();
        r.upload_gbps = gbps;
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace moebench
