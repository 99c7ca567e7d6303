// The expert-paging options moe-run and moe-chat take (--vram-budget, --cache-policy,
// --no-prefetch), and the model options they stand for.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include <moevk/moevk.h>

namespace moevk::apps {

struct PagingFlags {
    std::string vram_budget;
    std::string cache_policy = "lru";
    bool no_prefetch = false;
};

inline void add_paging_flags(CLI::App& app, PagingFlags& flags) {
    CLI::Option* budget =
        app.add_option("--vram-budget", flags.vram_budget,
                       "page the experts within this much device memory: bytes (6G, 512M), a share of the experts "
                       "that get a slot (50%), or min")
            ->check(CLI::Validator([](const std::string& v) { return v.empty() ? "an empty budget" : ""; }, "BUDGET"));
    // Without a budget every expert is resident and nothing is paged: a policy given alone would
    // be silently without effect.
    app.add_option("--cache-policy", flags.cache_policy, "expert cache policy with --vram-budget")
        ->check(CLI::IsMember({"lru", "lfu"}, CLI::ignore_case))
        ->capture_default_str()
        ->needs(budget);
    app.add_flag("--no-prefetch", flags.no_prefetch, "do not guess and upload the next layer's experts early")
        ->needs(budget);
}

// The model's paging options; they point into `flags`.
inline void apply_paging_flags(const PagingFlags& flags, moevk_model_options& options) {
    options.vram_budget = flags.vram_budget.empty() ? nullptr : flags.vram_budget.c_str();
    options.cache_policy = flags.cache_policy == "lfu" || flags.cache_policy == "LFU" ? MOEVK_CACHE_LFU : MOEVK_CACHE_LRU;
    options.prefetch = !flags.no_prefetch;
}

inline std::string describe_paging(const moevk_session_info& info, const PagingFlags& flags) {
    return std::string(info.plan) + "; " + flags.cache_policy + (flags.no_prefetch ? ", no prefetch" : ", prefetch");
}

}  // namespace moevk::apps
