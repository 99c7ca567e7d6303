// The scripted mode (`moe-desk --script FILE`): the app driven by a list of commands, one a line,
// through the same App calls as the window's buttons, while the window keeps drawing. Tests use
// it to open models, send messages, wait for replies, check errors, and save screenshots and the
// app's state. Commands (TEXT may hold \n for a new line; # starts a comment):
//
//   open PATH              opens a model (the load runs while frames go on)
//   picker DIR             Model > Open: the file picker, in DIR
//   pick NAME              double-clicks NAME in the picker (a folder enters it, a model opens)
//   wait-model             until the load has finished, well or not
//   expect-error TEXT      an error showing in the window contains TEXT (then it is dismissed)
//   expect-no-error        no error is showing
//   new | select N | rename TITLE | delete | system TEXT
//   set KEY VALUE          a setting (temperature, top_k, top_p, min_p, repeat_penalty,
//                          frequency_penalty, presence_penalty, seed, max_tokens, n_ctx,
//                          max_batch, budget_us, vram_budget, cache_policy), applied at once
//   send TEXT | regenerate | edit TEXT | stop
//   wait                   until the reply has ended
//   frames N               lets N frames pass
//   screenshot PATH        saves the next frame as a PNG
//   dump PATH              writes the app's state as JSON (conversations, reply, heatmap, ...)
//   timeout SECONDS        the longest any wait may take from here on (default 600)
//   quit
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "app.h"

struct ScriptHooks {
    std::function<void(const std::string&)> screenshot; // on the next frame
    std::function<bool()> screenshot_pending;
    std::function<void(const std::string&)> dump;        // throws when the write fails
    std::function<void(const std::string&)> open_picker;
    std::function<bool(const std::string&)> pick;        // false: no such entry listed
};

class Script {
public:
    // Reads FILE; throws naming the line of a command it does not know.
    explicit Script(const std::string& path);

    // Runs commands until one has to wait for frames, or the script ends. false: it has ended
    // (failed() says whether it failed).
    bool advance(App& app, const ScriptHooks& hooks, double now);
    bool failed() const { return !failure_.empty(); }
    const std::string& failure() const { return failure_; }

private:
    struct Line {
        int number;
        std::string command, argument;
    };
    bool waiting(App& app, const ScriptHooks& hooks, double now); // the current command still waits
    void run(const Line& line, App& app, const ScriptHooks& hooks, double now);
    void fail(const Line& line, const std::string& why);

    std::string path_;
    std::vector<Line> lines_;
    size_t next_ = 0;
    enum class Wait { None, Model, Reply, Frames, Screenshot } wait_ = Wait::None;
    uint64_t frames_left_ = 0;
    double wait_started_ = 0, timeout_ = 600;
    std::string failure_;
};
