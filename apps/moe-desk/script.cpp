#include "script.h"

#include <charconv>
#include <fstream>
#include <set>
#include <stdexcept>

namespace {

const std::set<std::string> kCommands = {"open",  "wait-model", "expect-error", "expect-no-error", "new",  "select",
                                         "rename", "delete",    "system",       "set",             "send", "regenerate",
                                         "edit",   "stop",      "wait",         "frames",          "screenshot",
                                         "dump",   "timeout",   "quit",         "picker",          "pick"};

// "\n" in a script's text is a new line; "\\" a backslash.
std::string unescape(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 'n' || text[i + 1] == '\\')) {
            out += text[i + 1] == 'n' ? '\n' : '\\';
            ++i;
        } else {
            out += text[i];
        }
    }
    return out;
}

template <typename T>
T number(const std::string& text, const std::string& what) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        throw std::invalid_argument(what + ": \"" + text + "\" is not a number");
    return value;
}

Settings with_setting(Settings s, const std::string& argument) {
    const size_t space = argument.find(' ');
    if (space == std::string::npos) throw std::invalid_argument("set needs a KEY and a VALUE");
    const std::string key = argument.substr(0, space), value = argument.substr(space + 1);
    if (key == "temperature") s.temperature = number<float>(value, key);
    else if (key == "top_k") s.top_k = number<int32_t>(value, key);
    else if (key == "top_p") s.top_p = number<float>(value, key);
    else if (key == "min_p") s.min_p = number<float>(value, key);
    else if (key == "repeat_penalty") s.repeat_penalty = number<float>(value, key);
    else if (key == "frequency_penalty") s.frequency_penalty = number<float>(value, key);
    else if (key == "presence_penalty") s.presence_penalty = number<float>(value, key);
    else if (key == "seed") s.seed = number<uint64_t>(value, key);
    else if (key == "max_tokens") s.max_tokens = number<uint32_t>(value, key);
    else if (key == "n_ctx") s.n_ctx = number<uint32_t>(value, key);
    else if (key == "max_batch") s.max_batch = number<uint32_t>(value, key);
    else if (key == "budget_us") s.budget_us = number<uint32_t>(value, key);
    else if (key == "vram_budget") s.vram_budget = value == "none" ? "" : value;
    else if (key == "cache_policy") s.cache_policy = value;
    else throw std::invalid_argument("set: no setting called " + key);
    return s;
}

}  // namespace

Script::Script(const std::string& path) : path_(path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot be read");
    std::string text;
    for (int number = 1; std::getline(in, text); ++number) {
        const size_t start = text.find_first_not_of(" \t");
        if (start == std::string::npos || text[start] == '#') continue;
        const size_t space = text.find(' ', start);
        Line line{number, text.substr(start, space == std::string::npos ? std::string::npos : space - start), ""};
        if (space != std::string::npos) line.argument = unescape(text.substr(space + 1));
        if (!kCommands.count(line.command))
            throw std::runtime_error(path + ":" + std::to_string(number) + ": no command called " + line.command);
        lines_.push_back(std::move(line));
    }
}

void Script::fail(const Line& line, const std::string& why) {
    failure_ = path_ + ":" + std::to_string(line.number) + ": " + line.command + ": " + why;
}

bool Script::waiting(App& app, const ScriptHooks& hooks, double now) {
    if (wait_ == Wait::None) return false;
    const Line& line = lines_[next_ - 1];
    if (now - wait_started_ > timeout_) {
        fail(line, "still waiting after " + std::to_string(int(timeout_)) + " s");
        return false;
    }
    bool still = false;
    switch (wait_) {
        case Wait::Model: still = app.loading(); break;
        case Wait::Reply: still = app.generating(); break;
        case Wait::Frames: still = frames_left_-- > 0; break;
        case Wait::Screenshot: still = hooks.screenshot_pending(); break;
        case Wait::None: break;
    }
    if (!still) wait_ = Wait::None;
    return still;
}

bool Script::advance(App& app, const ScriptHooks& hooks, double now) {
    while (!failed()) {
        if (waiting(app, hooks, now)) return true;
        if (failed() || next_ >= lines_.size()) break;
        const Line& line = lines_[next_++];
        if (line.command == "quit") break;
        try {
            run(line, app, hooks, now);
        } catch (const std::exception& e) {
            fail(line, e.what());
        }
        if (wait_ != Wait::None) wait_started_ = now;
        if (wait_ == Wait::Frames || wait_ == Wait::Screenshot) return true; // at least one frame
    }
    return false;
}

void Script::run(const Line& line, App& app, const ScriptHooks& hooks, double) {
    const std::string& c = line.command;
    const std::string& a = line.argument;
    auto require = [&](bool ok, const std::string& why) {
        if (!ok) throw std::runtime_error(why);
    };
    if (c == "open") {
        app.open_model(a);
        wait_ = Wait::Model; // the first frame shows the loading bar at least once
        frames_left_ = 0;
    } else if (c == "picker") {
        hooks.open_picker(a);
        wait_ = Wait::Frames; // the next frame draws it
        frames_left_ = 1;
    } else if (c == "pick") {
        require(hooks.pick(a), "the picker lists no " + a);
        wait_ = Wait::Frames; // the next frame hands the choice to the app
        frames_left_ = 1;
    } else if (c == "wait-model") {
        wait_ = Wait::Model;
    } else if (c == "expect-error") {
        std::string all;
        for (const std::string& e : app.errors()) all += e + "\n";
        require(all.find(a) != std::string::npos,
                "no error showing contains \"" + a + "\"" + (all.empty() ? " (none is showing)" : "; showing: " + all));
        app.dismiss_errors();
    } else if (c == "expect-no-error") {
        require(app.errors().empty(), "an error is showing: " + (app.errors().empty() ? "" : app.errors().back()));
    } else if (c == "new") {
        app.new_conversation();
        if (!a.empty()) app.rename(app.current(), a);
    } else if (c == "select") {
        const size_t index = number<size_t>(a, "select");
        require(index < app.conversations().size(), "there are " + std::to_string(app.conversations().size()) +
                                                        " conversations");
        app.select(index);
    } else if (c == "rename") {
        app.rename(app.current(), a);
    } else if (c == "delete") {
        app.remove(app.current());
    } else if (c == "system") {
        app.set_system(a);
    } else if (c == "set") {
        app.apply_settings(with_setting(app.settings(), a));
        if (app.loading()) wait_ = Wait::Model;
    } else if (c == "send" || c == "edit" || c == "regenerate") {
        const bool started = c == "send" ? app.send(a) : c == "edit" ? app.edit_last(a) : app.regenerate();
        require(started, "the reply did not start" + (app.errors().empty() ? "" : ": " + app.errors().back()));
    } else if (c == "stop") {
        app.stop();
    } else if (c == "wait") {
        wait_ = Wait::Reply;
    } else if (c == "frames") {
        frames_left_ = number<uint64_t>(a, "frames");
        wait_ = Wait::Frames;
    } else if (c == "screenshot") {
        hooks.screenshot(a);
        wait_ = Wait::Screenshot;
    } else if (c == "dump") {
        hooks.dump(a);
    } else if (c == "timeout") {
        timeout_ = number<double>(a, "timeout");
    }
}
