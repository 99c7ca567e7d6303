// moe-desk's state and what a person (or a script) can do with it: the conversations and their
// store, the settings, the model, the reply being written. The window's widgets and the
// scripted mode both act only through these calls, so a script drives the app exactly as
// clicks would.
#pragma once

#include <string>
#include <vector>

#include "chat_engine.h"
#include "store.h"

class App {
public:
    App(Window& window, Store store);

    // Once per frame: collects a finished load, runs the frame's slice of the reply, and keeps
    // the reply in its conversation when it ends.
    void update();

    // Model
    void open_model(const std::string& path);
    void cancel_load() { engine_.cancel_load(); }
    void apply_settings(const Settings& settings);

    // Conversations
    void new_conversation();
    void select(size_t index);
    void rename(size_t index, const std::string& title);
    void remove(size_t index);
    void set_system(const std::string& text);

    // The reply
    bool send(const std::string& text);        // a new user message, then the reply
    bool regenerate();                         // the last reply written again
    bool edit_last(const std::string& text);   // the last user message replaced, then the reply
    void stop() { end_reply(); } // the reply so far joins the conversation
    bool busy() const { return generating_ || loading(); }
    bool generating() const { return generating_; }
    bool loading() const { return engine_.state_now() == ChatEngine::State::Loading; }

    // Errors, in plain words, for the window's banner (the newest last).
    const std::vector<std::string>& errors() const { return errors_; }
    void dismiss_errors() { errors_.clear(); }
    void report(const std::string& error);

    const std::vector<Conversation>& conversations() const { return conversations_; }
    size_t current() const { return current_; }
    const Conversation& conversation() const { return conversations_[current_]; }
    const Settings& settings() const { return settings_; }
    ChatEngine& engine() { return engine_; }
    const ChatEngine& engine() const { return engine_; }
    const Store& store() const { return store_; }

private:
    bool reply();   // starts the reply to the current conversation as it stands
    void finish();  // the reply ended: it joins its conversation, which is saved
    void end_reply(); // stops a reply still running (before the conversation or model changes)
    void save();

    Store store_;
    Settings settings_;
    std::vector<Conversation> conversations_;
    size_t current_ = 0;
    ChatEngine engine_;
    bool generating_ = false;
    size_t replying_to_ = 0; // the conversation the running reply belongs to
    std::vector<std::string> errors_;
};
