// The expert-paging options moe-run and moe-chat take (--vram-budget, --cache-policy,
// --no-prefetch), checked and turned into Session options.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "experts/budget.h"
#include "experts/policy.h"
#include "gpu/error.h"
#include "runtime/session.h"

namespace moevk::apps {

struct PagingFlags {
    std::string vram_budget;
    std::string cache_policy = "lru";
    bool no_prefetch = false;
};

inline void add_paging_flags(CLI::App& app, PagingFlags& flags) {
    app.add_option("--vram-budget", flags.vram_budget,
                   "page the experts within this much device memory: bytes (6G, 512M), a share of the experts "
                   "that get a slot (50%), or min");
    app.add_option("--cache-policy", flags.cache_policy, "expert cache policy with --vram-budget: lru or lfu")
        ->capture_default_str();
    app.add_flag("--no-prefetch", flags.no_prefetch, "do not guess and upload the next layer's experts early");
}

// Sets the session's budget, policy and prefetch; Error(InvalidArgument) naming a bad value.
inline void apply_paging_flags(const PagingFlags& flags, runtime::SessionOptions& options) {
    auto policy = experts::parse_policy(flags.cache_policy);
    if (!policy) throw Error(ErrorCode::InvalidArgument, "--cache-policy must be lru or lfu, got " + flags.cache_policy);
    options.cache_policy = *policy;
    options.vram_budget = flags.vram_budget.empty() ? std::nullopt
                                                    : std::optional(experts::parse_vram_budget(flags.vram_budget));
    options.prefetch = !flags.no_prefetch;
}

inline std::string describe_paging(const experts::SlotPlan& plan, const runtime::SessionOptions& options) {
    return experts::describe(plan) + "; " + experts::policy_name(options.cache_policy) +
           (options.prefetch ? ", prefetch" : ", no prefetch");
}

}  // namespace moevk::apps
