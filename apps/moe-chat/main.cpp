// moe-chat: a terminal chat with a GGUF model. Streams the reply as it comes, keeps the
// conversation in the KV cache between turns, shows prompt and generation speed after each
// answer. Line editing and history come from libedit; Ctrl-C stops the current answer or clears
// the line being typed; Ctrl-D or /quit leaves. gpt-oss's replies (harmony) show their answer;
// --show-reasoning shows the reasoning too. Built on the public API only.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <stdexcept>

#include <moevk/moevk.hpp>

#include "../common/chat_model.h"
#include "../common/default_model.h"
#include "../common/device_flags.h"
#include "../common/paging_flags.h"
#include "../common/session_flags.h"
#include "conversation.h"
#include "line_input.h"
#include "reply_view.h"

using namespace moevk;

namespace {

const bool g_stderr_is_tty = isatty(STDERR_FILENO);

// A loading bar on a terminal; on a log, one line at the end (no carriage returns in logs).
bool show_progress(float fraction) {
    const int width = 30;
    if (g_stderr_is_tty) {
        int filled = static_cast<int>(width * fraction);
        std::fprintf(stderr, "\rloading [%s%s] %3d%%", std::string(filled, '#').c_str(),
                     std::string(width - filled, ' ').c_str(), static_cast<int>(100 * fraction));
        if (fraction >= 1.0f) std::fprintf(stderr, "\n");
    } else if (fraction >= 1.0f) {
        std::fprintf(stderr, "loaded\n");
    }
    return true;
}

// "[prompt 512 of 2048 tokens]" on a terminal while a prompt takes long enough to notice, and
// "[reasoning ...]" while a reply's hidden reasoning streams; erased before the answer streams.
// Logs get nothing. Ctrl-C stops the prompt.
class StatusLine {
public:
    bool update(uint32_t done, uint32_t total) {
        using namespace std::chrono;
        if (done == 0) started_ = steady_clock::now();
        if (g_stderr_is_tty && done < total && steady_clock::now() - started_ > milliseconds(300)) {
            std::fprintf(stderr, "\r[prompt %u of %u tokens; Ctrl-C stops]", done, total);
            shown_ = true;
        }
        return !moechat::interrupted();
    }
    void reasoning() {
        if (!g_stderr_is_tty || reasoning_shown_) return;
        std::fprintf(stderr, "\r\033[K[reasoning; --show-reasoning shows it; Ctrl-C stops]");
        shown_ = reasoning_shown_ = true;
    }
    void erase() {
        if (shown_) std::fprintf(stderr, "\r\033[K");
        shown_ = reasoning_shown_ = false;
    }

private:
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    bool shown_ = false, reasoning_shown_ = false;
};

// The reply goes to stdout as it comes; a write that fails (a full disk, a closed pipe) ends
// the turn and is reported rather than lost.
struct ReplyOut {
    bool failed = false;
    bool write(std::string_view piece) {
        if (std::fwrite(piece.data(), 1, piece.size(), stdout) != piece.size() || std::fflush(stdout) != 0) failed = true;
        return !failed && !moechat::interrupted();
    }
    void end_line() {
        if (std::fputs("\n", stdout) < 0 || std::fflush(stdout) != 0) failed = true;
    }
};

// stdout cannot be written: the chat ends (an error from the engine only ends the turn).
struct OutputFailed : std::runtime_error {
    OutputFailed() : std::runtime_error("writing the reply to standard output failed") {}
};

const char* kCommands = "/reset starts over, /stats shows totals, /help this, /quit leaves (a line starting "
                        "with // is sent with one / removed)";

// One turn: prompt with its progress line, reply streamed through `view` (the answer, and the
// reasoning where it is shown). Throws when stdout cannot be written.
moechat::Turn run_turn(moechat::Conversation& chat, const std::string& message, moechat::ReplyView view) {
    moechat::clear_interrupt();
    StatusLine status;
    ReplyOut out;
    bool writing = false;  // once the reply is on the screen, a status line would erase its line
    moechat::Turn t = chat.send(
        message, [&](uint32_t done, uint32_t total) { return status.update(done, total); },
        [&](moevk_channel channel, std::string_view piece) {
            if (!view.shows(channel)) {
                if (!writing) status.reasoning();
                return !moechat::interrupted();
            }
            if (!writing) status.erase();
            writing = true;
            return out.write(view.render(channel, piece));
        });
    status.erase();
    out.write(view.end());
    out.end_line();
    if (out.failed) throw OutputFailed();
    return t;
}

// A harmony reply that the length limit cut in its reasoning has no answer to show.
void note_unanswered(const moechat::Turn& t, bool harmony) {
    if (harmony && !t.answered && t.generation.end == MOEVK_END_LENGTH)
        std::fprintf(stderr, "[the reply reached the length limit before its answer; -n raises it]\n");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"moe-chat: chat with a mixture-of-experts GGUF model on a Vulkan device"};
    std::string model_path, prompt, template_name, system_prompt, reasoning_effort;
    moevk_sampling sampling = moevk_sampling_default();
    sampling.seed = std::random_device{}();
    uint32_t max_tokens = 256, n_ctx = 2048;
    apps::DeviceFlags device;
    bool show_stats = false, show_reasoning = false;
    apps::PagingFlags paging;
    app.add_option("-m,--model", model_path, "GGUF model file (default: assets/moe-vk-demo.gguf)");
    app.add_option("-p,--prompt", prompt, "ask one question, print the answer and exit");
    app.add_option("--chat-template", template_name,
                   "template family instead of the file's: " + apps::template_names_text());
    app.add_option("--system", system_prompt, "system message at the start of the conversation");
    app.add_option("--reasoning-effort", reasoning_effort, "gpt-oss: how much the model reasons (default medium)")
        ->check(CLI::IsMember({"low", "medium", "high"}));
    app.add_flag("--show-reasoning", show_reasoning,
                 "gpt-oss: show the reasoning before the answer (dim on a terminal, lines marked [analysis] otherwise)");
    app.add_option("-n,--max-tokens", max_tokens, "longest reply in tokens")
        ->check(CLI::Range(1u, apps::kMaxContext))
        ->capture_default_str();
    CLI::Option* ctx_opt =
        app.add_option("--ctx", n_ctx, "context length in tokens")
                                   ->check(CLI::Range(1u, apps::kMaxContext))
                                   ->capture_default_str();
    apps::add_sampling_flags(app, sampling);
    apps::add_device_flags(app, device);
    apps::add_paging_flags(app, paging);
    app.add_flag("--stats", show_stats, "print token counts and speeds after each answer in -p mode too");
    CLI11_PARSE(app, argc, argv);
    if (model_path.empty()) model_path = apps::default_model(argv[0]);

    try {
        apps::ChatModel opened(model_path, template_name, device, paging, show_progress);
        Engine& engine = opened.engine;
        Model& model = opened.model;
        moevk_model_info info = model.info();
        std::fprintf(stderr, "%s: %s\non %s\n", model_path.c_str(), info.description, engine.device_info().name);
        if (*ctx_opt) apps::warn_past_training_context("moe-chat", n_ctx, info);
        moevk_session_options so = moevk_session_options_default();
        so.n_ctx = n_ctx;
        so.sampling = sampling;
        so.record_experts = 0;
        Session session(model, so);
        if (info.experts_paged) std::fprintf(stderr, "paging: %s\n", apps::describe_paging(session.info(), paging).c_str());
        const std::string used_template = template_name.empty() ? info.chat_template : template_name;
        const bool harmony = moechat::is_harmony_template(used_template);
        if (!harmony && (show_reasoning || !reasoning_effort.empty()))
            std::fprintf(stderr,
                         "moe-chat: note: --show-reasoning and --reasoning-effort apply to gpt-oss's template, not %s\n",
                         used_template.c_str());
        moechat::Conversation chat(session, {system_prompt, template_name, reasoning_effort, harmony, max_tokens});
        const moechat::ReplyView view(show_reasoning, isatty(STDOUT_FILENO) ? moechat::ReplyView::Style::Terminal
                                                                             : moechat::ReplyView::Style::Plain);

        moechat::catch_interrupts();
        if (!prompt.empty()) {
            moechat::Turn t = run_turn(chat, prompt, view);
            note_unanswered(t, harmony);
            if (show_stats) std::fprintf(stderr, "%s\n", moechat::describe_turn(t).c_str());
            return 0;
        }

        moechat::LineInput input;
        if (input.interactive())
            std::fprintf(stderr, "template %s; %s; Ctrl-C stops an answer or clears the line\n",
                         used_template.c_str(), kCommands);
        moechat::Totals totals;
        for (;;) {
            std::string line;
            moechat::LineInput::Read got = input.read("> ", line);
            if (got == moechat::LineInput::Read::End) break;
            if (got == moechat::LineInput::Read::Interrupted || line.empty()) continue;
            if (line[0] == '/' && line.rfind("//", 0) != 0) {
                if (line == "/quit" || line == "/exit") break;
                if (line == "/reset") {
                    chat.reset();
                    std::fprintf(stderr, "[conversation cleared]\n");
                } else if (line == "/stats") {
                    moevk_session_info si = session.info();
                    std::fprintf(stderr, "%s\n", moechat::describe_totals(totals, si).c_str());
                    if (si.paged) std::fprintf(stderr, "%s", session.paging_report().c_str());
                } else if (line == "/help") {
                    std::fprintf(stderr, "[%s]\n", kCommands);
                } else {
                    std::fprintf(stderr, "[unknown command %s; %s]\n", line.c_str(), kCommands);
                }
                continue;
            }
            if (line[0] == '/') line.erase(0, 1);
            try {
                moechat::Turn t = run_turn(chat, line, view);
                note_unanswered(t, harmony);
                totals.add(t);
                std::fprintf(stderr, "%s\n", moechat::describe_turn(t).c_str());
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
