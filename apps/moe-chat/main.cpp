// moe-chat: a terminal chat with a GGUF model. Streams the reply as it comes, keeps the
// conversation in the KV cache between turns, shows prompt and generation speed after each
// answer. Line editing and history come from libedit; Ctrl-C stops the current answer.
// Built on the public API only.
#include <CLI/CLI.hpp>
#include <editline/readline.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include <moevk/moevk.hpp>

#include "../common/default_model.h"
#include "../common/device_flags.h"
#include "../common/paging_flags.h"

using namespace moevk;

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

// What one turn did: the rendered conversation's tokens, of which the cache already held
// `reused`; the reply.
struct Turn {
    uint32_t prompt_tokens = 0, reused = 0;
    moevk_generation generation{};
};

void print_stats(const Turn& t) {
    const moevk_generation& g = t.generation;
    std::fprintf(stderr, "[prompt %u tokens: %u from the cache, %u evaluated in %.2f s", t.prompt_tokens, t.reused,
                 g.prompt_tokens, g.prompt_seconds);
    if (g.prompt_tokens && g.prompt_seconds > 0)
        std::fprintf(stderr, " (%.1f tokens/s)", g.prompt_tokens / g.prompt_seconds);
    std::fprintf(stderr, "; reply %u tokens", g.generated_tokens);
    if (g.generated_tokens && g.generate_seconds > 0)
        std::fprintf(stderr, " at %.1f tokens/s", g.generated_tokens / g.generate_seconds);
    std::fprintf(stderr, "; ended by %s]\n", moevk_end_reason_name(g.end));
}

struct Totals {
    uint32_t turns = 0, evaluated = 0, reused = 0, generated = 0;
    double generate_seconds = 0;
    void add(const Turn& t) {
        ++turns;
        evaluated += t.generation.prompt_tokens;
        reused += t.reused;
        generated += t.generation.generated_tokens;
        generate_seconds += t.generation.generate_seconds;
    }
};

// The conversation as moe-chat keeps it: the messages so far, fed whole each turn (the session
// evaluates only what its cache does not hold).
class Conversation {
public:
    Conversation(Session& session, std::string system_prompt, std::string template_name, uint32_t max_tokens)
        : session_(session), system_(std::move(system_prompt)), template_(std::move(template_name)),
          max_tokens_(max_tokens) {
        reset();
    }

    void reset() {
        messages_.clear();
        if (!system_.empty()) messages_.push_back({MOEVK_ROLE_SYSTEM, system_});
        session_.reset();
    }

    // Streams the reply to `user` through `on_text`; the reply, as far as it got, joins the
    // conversation. A message that does not fit (context full) is not kept.
    Turn send(const std::string& user, const std::function<bool(std::string_view)>& on_text) {
        messages_.push_back({MOEVK_ROLE_USER, user});
        moevk_chat_options options = moevk_chat_options_default();
        if (!template_.empty()) options.template_name = template_.c_str();
        Turn turn;
        try {
            session_.feed_chat(messages_, options);
        } catch (...) {
            messages_.pop_back();
            throw;
        }
        moevk_session_info info = session_.info();
        turn.reused = info.position;
        turn.prompt_tokens = info.position + info.pending;
        std::string reply;
        Generate g;
        g.max_tokens = max_tokens_;
        g.on_token = [&](int32_t, std::string_view text) {
            reply += text;
            return text.empty() || on_text(text);
        };
        turn.generation = session_.generate(g);
        messages_.push_back({MOEVK_ROLE_ASSISTANT, reply});
        return turn;
    }

private:
    Session& session_;
    std::string system_, template_;
    uint32_t max_tokens_;
    std::vector<Message> messages_;
};

// A loading bar on a terminal; on a log, a line at the start and one at the end.
bool show_progress(float fraction) {
    static bool tty = isatty(STDERR_FILENO);
    const int width = 30;
    if (tty) {
        int filled = static_cast<int>(width * fraction);
        std::fprintf(stderr, "\rloading [%s%s] %3d%%", std::string(filled, '#').c_str(),
                     std::string(width - filled, ' ').c_str(), static_cast<int>(100 * fraction));
        if (fraction >= 1.0f) std::fprintf(stderr, "\n");
    } else if (fraction >= 1.0f) {
        std::fprintf(stderr, "loaded\n");
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"moe-chat: chat with a mixture-of-experts GGUF model on a Vulkan device"};
    std::string model_path, prompt, template_name, system_prompt;
    moevk_sampling sampling = moevk_sampling_default();
    sampling.seed = std::random_device{}();
    uint32_t max_tokens = 256, n_ctx = 2048;
    apps::DeviceFlags device;
    bool show_stats = false;
    apps::PagingFlags paging;
    app.add_option("-m,--model", model_path, "GGUF model file (default: assets/moe-vk-demo.gguf)");
    app.add_option("-p,--prompt", prompt, "ask one question, print the answer and exit");
    app.add_option("--chat-template", template_name, "template family instead of the file's: " + [] {
        std::string names;
        for (const std::string& n : Tokenizer::template_names()) names += (names.empty() ? "" : ", ") + n;
        return names;
    }());
    app.add_option("--system", system_prompt, "system message at the start of the conversation");
    app.add_option("-n,--max-tokens", max_tokens, "longest reply in tokens")->capture_default_str();
    app.add_option("--ctx", n_ctx, "context length in tokens")->check(CLI::PositiveNumber)->capture_default_str();
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
    if (model_path.empty()) model_path = apps::default_model(argv[0]);

    try {
        if (!std::filesystem::exists(model_path))
            throw Exception(MOEVK_ERROR_BAD_FILE, "no model file at " + model_path +
                                                      " (pass one with -m; the demo model is assets/moe-vk-demo.gguf)");
        std::string device_name;
        Engine engine(apps::engine_options(device, device_name));
        moevk_model_options mo = moevk_model_options_default();
        apps::apply_paging_flags(paging, mo);
        Model model(engine, model_path, mo, show_progress);
        moevk_model_info info = model.info();
        if (!template_name.empty()) {
            // The name is checked now rather than at the first message.
            std::vector<std::string> names = Tokenizer::template_names();
            if (std::find(names.begin(), names.end(), template_name) == names.end())
                throw Exception(MOEVK_ERROR_INVALID_ARGUMENT,
                                "--chat-template " + template_name + " is not a format moe-vk renders (see --help)");
        } else if (!*info.chat_template) {
            const moevk_tokenizer* tok = moevk_model_get_tokenizer(model.get());
            std::string why = tok ? Tokenizer(tok).info().template_error : info.vocab_error;
            throw Exception(MOEVK_ERROR_UNSUPPORTED, why + ": pass --chat-template NAME");
        }
        std::fprintf(stderr, "%s: %s\non %s\n", model_path.c_str(), info.description, engine.device_info().name);
        moevk_session_options so = moevk_session_options_default();
        so.n_ctx = n_ctx;
        so.sampling = sampling;
        so.record_experts = 0;
        Session session(model, so);
        if (info.experts_paged) std::fprintf(stderr, "paging: %s\n", apps::describe_paging(session.info(), paging).c_str());
        Conversation chat(session, system_prompt, template_name, max_tokens);
        auto stream = [](std::string_view piece) {
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            return !g_interrupted.load();
        };

        if (!prompt.empty()) {
            Turn t = chat.send(prompt, stream);
            std::printf("\n");
            if (show_stats) print_stats(t);
            return 0;
        }

        std::signal(SIGINT, on_sigint);
        bool interactive = isatty(STDIN_FILENO);
        if (interactive)
            std::fprintf(stderr, "template %s; /reset starts over, /stats shows totals, /quit leaves; Ctrl-C stops "
                                 "an answer\n", template_name.empty() ? info.chat_template : template_name.c_str());
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
                moevk_session_info si = session.info();
                std::fprintf(stderr, "[%u turns; %u prompt tokens evaluated, %u reused from the cache; %u generated",
                             totals.turns, totals.evaluated, totals.reused, totals.generated);
                if (totals.generate_seconds > 0)
                    std::fprintf(stderr, " at %.1f tokens/s", totals.generated / totals.generate_seconds);
                std::fprintf(stderr, "; cache holds %u of %u positions]\n", si.position, si.n_ctx);
                if (si.paged) std::fprintf(stderr, "%s", session.paging_report().c_str());
                continue;
            }
            g_interrupted = false;
            try {
                Turn t = chat.send(line, stream);
                std::printf("\n");
                std::fflush(stdout);
                totals.add(t);
                print_stats(t);
            } catch (const Exception& e) {
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
