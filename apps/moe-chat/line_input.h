// Reading the user's lines: with libedit's line editing and history on a terminal, plain lines
// from a pipe. Ctrl-C while a line is typed clears it and asks again (as a shell does), so only
// Ctrl-D or /quit leaves; while the model works, Ctrl-C stops it (interrupted()).
#pragma once

#include <string>

namespace moechat {

// Routes SIGINT to a flag, without restarting interrupted calls, so that a wait on the
// keyboard wakes up.
void catch_interrupts();
bool interrupted();
void clear_interrupt();

class LineInput {
public:
    enum class Read { Line, Interrupted, End };

    LineInput();
    bool interactive() const { return interactive_; }
    // A line without its newline; Interrupted when Ctrl-C cleared the line; End at Ctrl-D or
    // the end of the input.
    Read read(const char* prompt, std::string& line);

private:
    Read read_edited(const char* prompt, std::string& line);
    bool interactive_;
};

}  // namespace moechat
