#include "store.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

using nlohmann::json;

std::filesystem::path data_folder(const std::string& override) {
    if (!override.empty()) return override;
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "moe-desk";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".local" / "share" / "moe-desk";
    return std::filesystem::path(".moe-desk");
}

namespace {

const char* role_name(ChatMessage::Role role) { return role == ChatMessage::Role::User ? "user" : "assistant"; }

// Reads a file into `text`: false when there is none (not an error: nothing was saved yet).
bool read_file(const std::filesystem::path& path, std::string& text, std::string& error) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return false;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (!in) {
        error = path.string() + ": cannot be read";
        return false;
    }
    text = buffer.str();
    return true;
}

// Takes `key` from `object` into `value` when present; a wrong type names the field.
template <typename T>
void take(const json& object, const char* key, T& value, const std::string& where) {
    auto it = object.find(key);
    if (it == object.end()) return;
    try {
        value = it->get<T>();
    } catch (const json::exception&) {
        throw std::runtime_error(where + "." + key + " has the wrong type (" + it->type_name() + ")");
    }
}

// A file that does not parse is moved aside (NAME.unreadable, replacing an older one) so the
// next save does not overwrite it: what it held stays for the user to recover.
std::string set_aside(const std::filesystem::path& path, const std::string& why) {
    std::filesystem::path aside = path;
    aside += ".unreadable";
    std::error_code ec;
    std::filesystem::rename(path, aside, ec);
    if (ec) return path.string() + ": " + why + " (and it cannot be moved aside: " + ec.message() + ")";
    return path.string() + ": " + why + "; kept as " + aside.filename().string();
}

}  // namespace

std::string Store::write(const std::string& name, const std::string& text) const {
    const std::filesystem::path path = folder_ / name;
    std::error_code ec;
    std::filesystem::create_directories(folder_, ec);
    if (ec) return folder_.string() + ": cannot be created (" + ec.message() + ")";
    const std::filesystem::path temporary = folder_ / (name + ".tmp");
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) {
            std::filesystem::remove(temporary, ec);
            return temporary.string() + ": the write failed; " + path.string() + " is unchanged";
        }
    }
    std::filesystem::rename(temporary, path, ec);
    if (ec) return path.string() + ": cannot be replaced (" + ec.message() + ")";
    return "";
}

std::string Store::load_conversations(std::vector<Conversation>& out) const {
    const std::filesystem::path path = folder_ / "conversations.json";
    std::string text, error;
    if (!read_file(path, text, error)) return error;
    try {
        json root = json::parse(text);
        if (!root.is_object() || !root.contains("conversations") || !root["conversations"].is_array())
            throw std::runtime_error("no \"conversations\" list");
        std::vector<Conversation> loaded;
        for (size_t i = 0; i < root["conversations"].size(); ++i) {
            const json& c = root["conversations"][i];
            const std::string where = "conversations[" + std::to_string(i) + "]";
            if (!c.is_object()) throw std::runtime_error(where + " is not an object");
            Conversation conversation;
            take(c, "title", conversation.title, where);
            take(c, "system", conversation.system, where);
            const json messages = c.value("messages", json::array());
            if (!messages.is_array()) throw std::runtime_error(where + ".messages is not a list");
            for (size_t m = 0; m < messages.size(); ++m) {
                const std::string at = where + ".messages[" + std::to_string(m) + "]";
                if (!messages[m].is_object()) throw std::runtime_error(at + " is not an object");
                std::string role = "user";
                ChatMessage message;
                take(messages[m], "role", role, at);
                take(messages[m], "text", message.text, at);
                if (role == "user") message.role = ChatMessage::Role::User;
                else if (role == "assistant") message.role = ChatMessage::Role::Assistant;
                else throw std::runtime_error(at + ".role is \"" + role + "\", not user or assistant");
                conversation.messages.push_back(std::move(message));
            }
            loaded.push_back(std::move(conversation));
        }
        out = std::move(loaded);
        return "";
    } catch (const std::exception& e) {
        return set_aside(path, e.what());
    }
}

std::string Store::save_conversations(const std::vector<Conversation>& conversations) const {
    json list = json::array();
    for (const Conversation& c : conversations) {
        json messages = json::array();
        for (const ChatMessage& m : c.messages) messages.push_back({{"role", role_name(m.role)}, {"text", m.text}});
        list.push_back({{"title", c.title}, {"system", c.system}, {"messages", messages}});
    }
    // Replies can hold bytes a model made that are not UTF-8: replace them rather than fail.
    return write("conversations.json",
                 json{{"conversations", list}}.dump(1, '\t', false, json::error_handler_t::replace) + "\n");
}

std::string Store::load_settings(Settings& out) const {
    const std::filesystem::path path = folder_ / "settings.json";
    std::string text, error;
    if (!read_file(path, text, error)) return error;
    try {
        json root = json::parse(text);
        if (!root.is_object()) throw std::runtime_error("not an object");
        Settings s = out;
        const std::string w = "settings";
        take(root, "temperature", s.temperature, w);
        take(root, "top_k", s.top_k, w);
        take(root, "top_p", s.top_p, w);
        take(root, "min_p", s.min_p, w);
        take(root, "repeat_penalty", s.repeat_penalty, w);
        take(root, "frequency_penalty", s.frequency_penalty, w);
        take(root, "presence_penalty", s.presence_penalty, w);
        take(root, "seed", s.seed, w);
        take(root, "max_tokens", s.max_tokens, w);
        take(root, "n_ctx", s.n_ctx, w);
        take(root, "max_batch", s.max_batch, w);
        take(root, "vram_budget", s.vram_budget, w);
        take(root, "cache_policy", s.cache_policy, w);
        take(root, "budget_us", s.budget_us, w);
        take(root, "recent_models", s.recent_models, w);
        if (s.cache_policy != "lru" && s.cache_policy != "lfu")
            throw std::runtime_error("settings.cache_policy is \"" + s.cache_policy + "\", not lru or lfu");
        out = std::move(s);
        return "";
    } catch (const std::exception& e) {
        return set_aside(path, e.what());
    }
}

std::string Store::save_settings(const Settings& s) const {
    json root = {{"temperature", s.temperature},
                 {"top_k", s.top_k},
                 {"top_p", s.top_p},
                 {"min_p", s.min_p},
                 {"repeat_penalty", s.repeat_penalty},
                 {"frequency_penalty", s.frequency_penalty},
                 {"presence_penalty", s.presence_penalty},
                 {"seed", s.seed},
                 {"max_tokens", s.max_tokens},
                 {"n_ctx", s.n_ctx},
                 {"max_batch", s.max_batch},
                 {"vram_budget", s.vram_budget},
                 {"cache_policy", s.cache_policy},
                 {"budget_us", s.budget_us},
                 {"recent_models", s.recent_models}};
    return write("settings.json", root.dump(1, '\t', false, json::error_handler_t::replace) + "\n");
}
