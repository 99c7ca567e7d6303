// moe-chat: a terminal chat with a GGUF model. Streams the reply as it comes, keeps the
// conversation in the KV cache between turns, shows prompt and generation speed after each
// answer. Line editing and history come from libedit; Ctrl-C stops the current answer.
#include <CLI/CLI.hpp>
#include <editline/readline.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "../common/device_flags.h"
#include "../common/paging_flags.h"
#include "experts/stats.h"
#include "gpu/context.h"
#include "gpu/error.h"
#include "model/model_file.h"
#include "runtime/chat.h"
#include "runtime/device_model.h"
#include "runtime/session.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

using namespace moevk;

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

// The default model ships in assets/: found from the working directory (the README runs from
// the repository root) or next to the build tree.
std::string default_model(const char* argv0) {
    const char* name = "assets/moe-vk-demo.gguf";
    if (std::filesystem::exists(name)) return name;
    std::filesystem::path exe = std::filesystem::weakly_canonical(std::filesystem::path(argv0));
    for (std::filesystem::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
        if (std::filesystem::exists(dir / name)) return (dir / name).string();
    return name;
}

void print_stats(const runtime::TurnStats& s) {
    std::fprintf(stderr, "[prompt %u tokens: %u from the cache, %u evaluated in %.2f s",
                 s.prompt_tokens, s.reused_tokens, s.evaluated_tokens, s.prompt_seconds);
    if (s.evaluated_tokens && s.prompt_seconds > 0)
        std::fprintf(stderr, " (%.1f tokens/s)", s.evaluated_tokens / s.prompt_seconds);
    std::fprintf(stderr, "; reply %u tokens", s.generated_tokens);
    if (s.generated_tokens && s.generate_seconds > 0)
        std::fprintf(stderr, " at %.1f tokens/s", s.generated_tokens / s.generate_seconds);
    std::fprintf(stderr, "; ended by %s]\n", runtime::end_name(s.end));
}

struct Totals {
    uint32_t turns = 0, evaluated = 0, reused = 0, generated = 0;
    double prompt_seconds = 0, generate_seconds = 0;
    void add(const runtime::TurnStats& s) {
        ++turns;
        evaluated += s.evaluated_tokens;
        reused += s.reused_tokens;
        generated += s.generated_tokens;
        prompt_seconds += s.prompt_seconds;
        generate_seconds += s.generate_seconds;
    }
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"moe-chat: chat with a mixture-of-experts GGUF model on a Vulkan device"};
    std::string model_path, prompt, template_name, system_prompt;
    runtime::SamplingParams sampling;
    sampling.seed = std::random_device{}();
    uint32_t max_tokens = 256, n_ctx = 2048;
    apps::DeviceFlags device;
    bool show_stats = false;
    apps::PagingFlags paging;
    app.add_option("-m,--model", model_path, "GGUF model file (default: assets/moe-vk-demo.gguf)");
    app.add_option("-p,--prompt", prompt, "ask one question, print the answer and exit");
    app.add_option("--chat-template", template_name, "template family instead of the file's: " + [] {
        std::string names;
        for (std::string_view n : text::ChatTemplate::names()) names += (names.empty() ? "" : ", ") + std::string(n);
        return names;
    }());
    app.add_option("--system", system_prompt, "system message at the start of the conversation");
    app.add_option("-n,--max-tokens", max_tokens, "longest reply in tokens")->capture_default_str();
    app.add_option("--ctx", n_ctx, "context length in tokens")->capture_default_str();
    app.add_option("--temp", sampling.temperature, "temperature (0: greedy)")->capture_default_str();
    app.add_option("--top-k", sampling.top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
    app.add_option("--top-p", sampling.top_p, "keep the smallest set of this probability (1: off)")->capture_default_str();
    app.add_option("--min-p", sampling.min_p, "drop tokens below this fraction of the best (0: off)")->capture_default_str();
    app.add_option("--repeat-penalty", sampling.repeat_penalty, "penalise recent tokens (1: off)")->capture_default_str();
    app.add_option("--presence-penalty", sampling.presence_penalty, "penalise tokens already used (0: off)")
        ->capture_default_str();
    app.add_option("--seed", sampling.seed, "random seed, for reproducible replies");
    apps::add_device_flags(app, device);
    apps::add_paging_flags(app, paging);
    app.add_flag("--stats", show_stats, "print token counts and speeds after each answer in -p mode too");
    CLI11_PARSE(app, argc, argv);
    if (model_path.empty()) model_path = default_model(argv[0]);

    try {
        if (!std::filesystem::exists(model_path))
            throw Error(ErrorCode::InvalidArgument, "no model file at " + model_path +
                                                        " (pass one with -m; the demo model is assets/moe-vk-demo.gguf)");
        model::ModelFile model = model::ModelFile::open(model_path);
        text::Tokenizer tokenizer = text::Tokenizer::from_file(model.file());
        text::ChatTemplate chat_template = [&] {
            if (!template_name.empty()) return text::ChatTemplate::from_name(template_name);
            auto source = model.file().get_string("tokenizer.chat_template");
            if (!source)
                throw Error(ErrorCode::Unsupported, model_path + " has no chat template: pass --chat-template NAME");
            return text::ChatTemplate::detect(*source);
        }();

        runtime::SessionOptions so;
        apps::apply_paging_flags(paging, so);
        auto ctx = gpu::Context::create(apps::context_options(device));
        std::fprintf(stderr, "%s: %s\non %s\n", model_path.c_str(), model::describe(model.config()).c_str(),
                     ctx->info().name.c_str());
        runtime::DeviceModelOptions model_options{.page_experts = so.vram_budget.has_value()};
        runtime::DeviceModel device_model(*ctx, model, model_options, [](uint32_t done, uint32_t total) {
            const int width = 30;
            int filled = static_cast<int>(width * done / total);
            std::fprintf(stderr, "\rloading [%s%s] %u/%u layers", std::string(filled, '#').c_str(),
                         std::string(width - filled, ' ').c_str(), done, total);
            if (done == total) std::fprintf(stderr, "\n");
        });
        so.n_ctx = n_ctx;
        runtime::Session session(*ctx, device_model, so);
        if (const experts::SlotPlan* plan = session.slot_plan())
            std::fprintf(stderr, "paging: %s\n", apps::describe_paging(*plan, so).c_str());
        runtime::ChatSettings settings{sampling, max_tokens, system_prompt};
        runtime::Chat chat(session, tokenizer, chat_template, settings);
        auto stream = [](std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            return !g_interrupted.load();
        };

        if (!prompt.empty()) {
            runtime::TurnStats s = chat.send(prompt, stream);
            std::printf("\n");
            if (show_stats) print_stats(s);
            return 0;
        }

        std::signal(SIGINT, on_sigint);
        bool interactive = isatty(STDIN_FILENO);
        if (interactive)
            std::fprintf(stderr, "template %s; /reset starts over, /stats shows totals, /quit leaves; Ctrl-C stops "
                                 "an answer\n", chat_template.name().c_str());
        Totals totals;
        for (;;) {
            std::string line;
            if (interactive) {
                char* raw = readline("> ");
                if (!raw) break;  // Ctrl-D
                line = raw;
                std::free(raw);
                if (!line.empty()) add_history(line.c_str());
            } else if (!std::getline(std::cin, line)) {
                break;
            }
            if (line.empty()) continue;
            if (line == "/quit" || line == "/exit") break;
            if (line == "/reset") {
                chat.reset();
                std::fprintf(stderr, "[conversation cleared]\n");
                continue;
            }
            if (line == "/stats") {
                std::fprintf(stderr, "[%u turns; %u prompt tokens evaluated, %u reused from the cache; %u generated",
                             totals.turns, totals.evaluated, totals.reused, totals.generated);
                if (totals.generate_seconds > 0)
                    std::fprintf(stderr, " at %.1f tokens/s", totals.generated / totals.generate_seconds);
                std::fprintf(stderr, "; cache holds %u of %u positions]\n", session.position(), session.n_ctx());
                if (session.paged()) std::fprintf(stderr, "%s", experts::stats_table(session.paging_stats()).c_str());
                continue;
            }
            g_interrupted = false;
            try {
                runtime::TurnStats s = chat.send(line, stream);
                std::printf("\n");
                std::fflush(stdout);
                totals.add(s);
                print_stats(s);
            } catch (const Error& e) {
                // A full context or a message the template rejects: say so and keep chatting.
                std::fprintf(stderr, "\n%s\n", e.what());
            }
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "moe-chat: error: %s\n", e.what());
        return 1;
    }
}
