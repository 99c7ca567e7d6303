// Model > Open: a file picker drawn with Dear ImGui inside the window (no native dialog, so it
// works the same under any desktop or none): the folder's subfolders and .gguf files, a path
// that can be typed, and the recently opened models.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

class FilePicker {
public:
    // Opens the picker in `folder` (the current folder when empty) on the next draw.
    void open(const std::filesystem::path& folder);
    // Draws it while open; returns the file chosen, once.
    std::optional<std::string> draw(const std::vector<std::string>& recent);
    // The scripted mode's double-click: chooses the listed entry called `name` (a folder is
    // entered, a file returned by the next draw). false when no such entry is listed.
    bool choose(const std::string& name);
    std::vector<std::string> listed() const; // the entries' names, folders with a '/'

private:
    void list(const std::filesystem::path& folder);

    bool opening_ = false;
    std::filesystem::path folder_;
    std::vector<std::filesystem::directory_entry> entries_;
    std::string typed_;
    std::string error_;
    std::optional<std::string> chosen_; // by choose()
};
