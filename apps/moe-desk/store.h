// What moe-desk keeps between runs, as JSON files in its data folder
// ($XDG_DATA_HOME/moe-desk, else ~/.local/share/moe-desk, or --data-dir):
//   conversations.json  the conversations: title, system prompt, messages
//   settings.json       sampling, context, VRAM budget, frame budget, recent model files
// A file that does not parse is reported and moved aside (NAME.unreadable) so that saving does
// not overwrite it; a write goes to a temporary file renamed over the old one, so a failed or
// interrupted write never loses what was saved before.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

struct ChatMessage {
    enum class Role { User, Assistant };
    Role role = Role::User;
    std::string text;
};

struct Conversation {
    std::string title = "New conversation";
    std::string system; // the system prompt, "" for none
    std::vector<ChatMessage> messages;
};

struct Settings {
    // Sampling (moevk_sampling): applied to the session at once.
    float temperature = 0.8f;
    int32_t top_k = 40;
    float top_p = 0.95f;
    float min_p = 0.05f;
    float repeat_penalty = 1.0f;
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    uint64_t seed = 0; // 0: a new random seed for each session
    uint32_t max_tokens = 512;
    // The session: a change makes a new one (the cache starts empty).
    uint32_t n_ctx = 0;     // 0: the model's training context, at most 4096
    uint32_t max_batch = 0; // prompt tokens per forward step (the smallest piece a frame can
                            // hold); 0: 1 on a CPU device, 32 on a GPU
    // The model: a change reloads it.
    std::string vram_budget; // "" keeps every expert on the device
    std::string cache_policy = "lru";
    // The frame: GPU time each frame gives the engine.
    uint32_t budget_us = 8000;
    std::vector<std::string> recent_models; // newest first
};

// The data folder: `override` when given, else the XDG rule.
std::filesystem::path data_folder(const std::string& override);

class Store {
public:
    explicit Store(std::filesystem::path folder) : folder_(std::move(folder)) {}
    const std::filesystem::path& folder() const { return folder_; }

    // Each returns "" or what went wrong, naming the file (and the field where one is wrong);
    // a load that fails leaves `out` as it was.
    std::string load_conversations(std::vector<Conversation>& out) const;
    std::string save_conversations(const std::vector<Conversation>& conversations) const;
    std::string load_settings(Settings& out) const;
    std::string save_settings(const Settings& settings) const;

private:
    std::string write(const std::string& name, const std::string& text) const;
    std::filesystem::path folder_;
};
