#include "line_input.h"

#include <editline/readline.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace moechat {

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

// libedit's callback interface hands the finished line here.
struct PendingLine {
    bool done = false, end = false;
    std::string text;
} g_pending;

void on_line(char* raw) {
    g_pending.done = true;
    g_pending.end = raw == nullptr;
    if (raw) {
        g_pending.text = raw;
        std::free(raw);
    }
    rl_callback_handler_remove();
}

}  // namespace

void catch_interrupts() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the wait for a key returns EINTR
    sigaction(SIGINT, &sa, nullptr);
}

bool interrupted() { return g_interrupted.load(); }
void clear_interrupt() { g_interrupted = false; }

LineInput::LineInput() : interactive_(isatty(STDIN_FILENO)) {}

LineInput::Read LineInput::read(const char* prompt, std::string& line) {
    if (interactive_) return read_edited(prompt, line);
    if (!std::getline(std::cin, line)) return Read::End;
    return Read::Line;
}

// The callback interface rather than readline(): our own wait on the keyboard sees Ctrl-C,
// which a blocking readline() would take as the end of input.
LineInput::Read LineInput::read_edited(const char* prompt, std::string& line) {
    clear_interrupt();
    g_pending = PendingLine{};
    rl_callback_handler_install(prompt, on_line);
    while (!g_pending.done) {
        pollfd keyboard{STDIN_FILENO, POLLIN, 0};
        if (poll(&keyboard, 1, -1) < 0) {
            if (errno == EINTR && interrupted()) {
                clear_interrupt();
                rl_callback_handler_remove();
                std::fputs("\n", stdout);
                std::fflush(stdout);
                return Read::Interrupted;
            }
            if (errno == EINTR) continue;
            rl_callback_handler_remove();
            return Read::End;
        }
        rl_callback_read_char();
    }
    if (g_pending.end) {
        std::fputs("\n", stdout);
        return Read::End;
    }
    line = g_pending.text;
    if (!line.empty()) add_history(line.c_str());
    return Read::Line;
}

}  // namespace moechat
