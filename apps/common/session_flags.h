// The sampling options moe-chat takes (--temp, --top-k, ...), checked as they are parsed so a
// bad value is refused before the device and the model load; and the word the apps say when a
// context is asked past what the model was trained for.
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <moevk/moevk.hpp>

namespace moevk::apps {

// The longest context or reply a flag may ask for (a bound for the range checks' messages).
constexpr uint32_t kMaxContext = 1u << 24;

inline void add_sampling_flags(CLI::App& app, moevk_sampling& s) {
    app.add_option("--temp", s.temperature, "temperature (0: greedy)")->check(CLI::Range(0.0f, 100.0f))->capture_default_str();
    app.add_option("--top-k", s.top_k, "keep the k most likely tokens (0: off)")
        ->check(CLI::Range(0, 1 << 20))
        ->capture_default_str();
    app.add_option("--top-p", s.top_p, "keep the smallest set of this probability (1: off)")
        ->check(CLI::Range(0.0f, 1.0f))
        ->capture_default_str();
    app.add_option("--min-p", s.min_p, "drop tokens below this fraction of the best (0: off)")
        ->check(CLI::Range(0.0f, 1.0f))
        ->capture_default_str();
    app.add_option("--repeat-penalty", s.repeat_penalty, "penalise recent tokens (1: off)")
        ->check(CLI::Range(0.01f, 100.0f))
        ->capture_default_str();
    app.add_option("--frequency-penalty", s.frequency_penalty, "penalise tokens by how often they were used (0: off)")
        ->check(CLI::Range(-2.0f, 2.0f))
        ->capture_default_str();
    app.add_option("--presence-penalty", s.presence_penalty, "penalise tokens already used (0: off)")
        ->check(CLI::Range(-2.0f, 2.0f))
        ->capture_default_str();
    app.add_option("--seed", s.seed, "random seed, for reproducible replies");
}

// The template families moe-vk renders, "chatml, llama2, ...".
inline std::string template_names_text() {
    std::string all;
    for (const std::string& n : Tokenizer::template_names()) all += (all.empty() ? "" : ", ") + n;
    return all;
}

// --chat-template checked before the device and the model load rather than at the first message.
inline void check_template_name(const std::string& name) {
    if (name.empty()) return;
    std::vector<std::string> names = Tokenizer::template_names();
    if (std::find(names.begin(), names.end(), name) == names.end())
        throw Exception(MOEVK_ERROR_INVALID_ARGUMENT,
                        "--chat-template " + name + " is not a format moe-vk renders: " + template_names_text());
}

// A context past the training context is allowed (RoPE goes on) but its quality is not the
// model's: say so once, on stderr.
inline void warn_past_training_context(const char* app, uint32_t n_ctx, const moevk_model_info& info) {
    if (info.n_ctx_train && n_ctx > info.n_ctx_train)
        std::fprintf(stderr, "%s: note: --ctx %u is past the %u positions the model was trained for; text past them may degrade\n",
                     app, n_ctx, info.n_ctx_train);
}

}  // namespace moevk::apps
