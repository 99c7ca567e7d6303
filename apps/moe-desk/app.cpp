#include "app.h"

#include <algorithm>

App::App(Window& window, Store store) : store_(std::move(store)), engine_(window) {
    report(store_.load_settings(settings_));
    report(store_.load_conversations(conversations_));
    if (conversations_.empty()) conversations_.emplace_back();
    current_ = conversations_.size() - 1; // the newest
}

void App::report(const std::string& error) {
    if (!error.empty()) errors_.push_back(error);
}

void App::save() { report(store_.save_conversations(conversations_)); }

void App::update() {
    const ChatEngine::State before = engine_.state_now();
    ChatEngine::State state = engine_.state();
    if (before == ChatEngine::State::Loading && state != ChatEngine::State::Loading) {
        report(engine_.error());
        engine_.clear_error();
        if (state == ChatEngine::State::Ready) {
            // Remembered once it has opened: the recent list holds models that work.
            std::vector<std::string>& recent = settings_.recent_models;
            recent.erase(std::remove(recent.begin(), recent.end(), engine_.model_path()), recent.end());
            recent.insert(recent.begin(), engine_.model_path());
            if (recent.size() > 8) recent.resize(8);
            report(store_.save_settings(settings_));
        }
    }
    if (state == ChatEngine::State::Generating) engine_.step(settings_.budget_us);
    if (generating_ && engine_.state_now() != ChatEngine::State::Generating) finish();
}

void App::end_reply() {
    if (!generating_) return;
    engine_.stop();
    finish();
}

void App::open_model(const std::string& path) {
    if (engine_.state_now() == ChatEngine::State::Loading) return;
    end_reply();
    errors_.clear(); // what went wrong before is about another file
    engine_.open(path, settings_);
}

void App::apply_settings(const Settings& settings) {
    end_reply();
    settings_ = settings;
    engine_.apply(settings_);
    report(engine_.error());
    engine_.clear_error();
    report(store_.save_settings(settings_));
}

void App::new_conversation() {
    end_reply();
    conversations_.emplace_back();
    current_ = conversations_.size() - 1;
    save();
}

void App::select(size_t index) {
    if (index >= conversations_.size() || index == current_) return;
    end_reply();
    current_ = index;
}

void App::rename(size_t index, const std::string& title) {
    if (index >= conversations_.size() || title.empty()) return;
    conversations_[index].title = title;
    save();
}

void App::remove(size_t index) {
    if (index >= conversations_.size()) return;
    end_reply();
    conversations_.erase(conversations_.begin() + index);
    if (conversations_.empty()) conversations_.emplace_back();
    current_ = std::min(current_ > index ? current_ - 1 : current_, conversations_.size() - 1);
    save();
}

void App::set_system(const std::string& text) {
    end_reply();
    conversations_[current_].system = text;
    save();
}

bool App::reply() {
    if (!engine_.start(conversations_[current_], settings_.max_tokens)) {
        report(engine_.has_model() ? engine_.error() : "Open a model first (Model > Open).");
        engine_.clear_error();
        return false;
    }
    generating_ = true;
    replying_to_ = current_;
    return true;
}

void App::finish() {
    generating_ = false;
    report(engine_.error());
    engine_.clear_error();
    if (replying_to_ < conversations_.size())
        conversations_[replying_to_].messages.push_back({ChatMessage::Role::Assistant, engine_.reply()});
    save();
}

bool App::send(const std::string& text) {
    if (busy() || text.empty()) return false;
    Conversation& c = conversations_[current_];
    c.messages.push_back({ChatMessage::Role::User, text});
    // The first message names a conversation that has no name yet.
    if (c.title == Conversation{}.title) c.title = text.substr(0, 40);
    if (!reply()) {
        c.messages.pop_back(); // nothing was sent: the text goes back to the input box
        return false;
    }
    return true;
}

bool App::regenerate() {
    Conversation& c = conversations_[current_];
    if (busy() || c.messages.empty() || c.messages.back().role != ChatMessage::Role::Assistant) return false;
    ChatMessage last = c.messages.back();
    c.messages.pop_back();
    if (!reply()) {
        c.messages.push_back(std::move(last));
        return false;
    }
    return true;
}

bool App::edit_last(const std::string& text) {
    Conversation& c = conversations_[current_];
    if (busy() || text.empty()) return false;
    auto last_user = std::find_if(c.messages.rbegin(), c.messages.rend(),
                                  [](const ChatMessage& m) { return m.role == ChatMessage::Role::User; });
    if (last_user == c.messages.rend()) return false;
    std::vector<ChatMessage> before = c.messages;
    c.messages.erase(std::next(last_user).base(), c.messages.end()); // the message and what followed it
    c.messages.push_back({ChatMessage::Role::User, text});
    if (!reply()) {
        c.messages = std::move(before);
        return false;
    }
    return true;
}
