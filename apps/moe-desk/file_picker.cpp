#include "file_picker.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <algorithm>
#include <system_error>
#include <utility>

namespace {

const char* kTitle = "Open a model";

std::string size_text(uintmax_t bytes) {
    char text[32];
    if (bytes >= (1ull << 30)) std::snprintf(text, sizeof text, "%.1f GiB", bytes / double(1ull << 30));
    else std::snprintf(text, sizeof text, "%.1f MiB", bytes / double(1ull << 20));
    return text;
}

}  // namespace

void FilePicker::open(const std::filesystem::path& folder) {
    std::error_code ec;
    list(folder.empty() ? std::filesystem::current_path(ec) : folder);
    typed_.clear();
    opening_ = true;
}

void FilePicker::list(const std::filesystem::path& folder) {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(folder, ec);
    std::vector<std::filesystem::directory_entry> entries;
    for (auto it = std::filesystem::directory_iterator(absolute, std::filesystem::directory_options::skip_permission_denied, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        const std::filesystem::directory_entry& e = *it;
        if (e.path().filename().string().starts_with(".")) continue;
        std::error_code type_ec;
        if (e.is_directory(type_ec) || (e.is_regular_file(type_ec) && e.path().extension() == ".gguf"))
            entries.push_back(e);
    }
    if (ec) {
        error_ = absolute.string() + ": " + ec.message();
        return; // stays in the folder it was in
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        std::error_code x, y;
        bool ad = a.is_directory(x), bd = b.is_directory(y);
        if (ad != bd) return ad; // folders first
        return a.path().filename() < b.path().filename();
    });
    error_.clear();
    folder_ = absolute;
    entries_ = std::move(entries);
}

std::vector<std::string> FilePicker::listed() const {
    std::vector<std::string> names;
    for (const auto& e : entries_) {
        std::error_code ec;
        names.push_back(e.path().filename().string() + (e.is_directory(ec) ? "/" : ""));
    }
    return names;
}

bool FilePicker::choose(const std::string& name) {
    for (const auto& e : entries_) {
        std::error_code ec;
        if (e.path().filename() != name) continue;
        if (e.is_directory(ec)) list(e.path());
        else chosen_ = e.path().string();
        return true;
    }
    return false;
}

std::optional<std::string> FilePicker::draw(const std::vector<std::string>& recent) {
    if (opening_) {
        ImGui::OpenPopup(kTitle);
        opening_ = false;
    }
    std::optional<std::string> chosen = std::exchange(chosen_, std::nullopt);
    const ImVec2 display = ImGui::GetIO().DisplaySize;
    ImGui::SetNextWindowSize(ImVec2(display.x * 0.6f, display.y * 0.7f), ImGuiCond_Appearing);
    ImGui::SetNextWindowPos(ImVec2(display.x * 0.5f, display.y * 0.5f), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    if (!ImGui::BeginPopupModal(kTitle)) return chosen;

    if (!recent.empty()) {
        ImGui::TextDisabled("Recent");
        for (const std::string& path : recent)
            if (ImGui::Selectable(path.c_str())) chosen = path;
        ImGui::Separator();
    }
    ImGui::TextDisabled("%s", folder_.string().c_str());
    if (!error_.empty()) ImGui::TextColored(ImVec4(1, 0.45f, 0.4f, 1), "%s", error_.c_str());
    const float footer = ImGui::GetFrameHeightWithSpacing() * 2 + ImGui::GetStyle().ItemSpacing.y;
    ImGui::BeginChild("entries", ImVec2(0, -footer), true);
    if (folder_.has_parent_path() && folder_ != folder_.root_path() && ImGui::Selectable("../")) list(folder_.parent_path());
    std::optional<std::filesystem::path> enter;
    for (const auto& e : entries_) {
        std::error_code ec;
        const std::string name = e.path().filename().string();
        if (e.is_directory(ec)) {
            if (ImGui::Selectable((name + "/").c_str())) enter = e.path();
        } else {
            if (ImGui::Selectable(name.c_str(), false, ImGuiSelectableFlags_AllowDoubleClick)) {
                typed_ = e.path().string();
                if (ImGui::IsMouseDoubleClicked(0)) chosen = typed_;
            }
            ImGui::SameLine(ImGui::GetContentRegionAvail().x - 80);
            ImGui::TextDisabled("%s", size_text(e.file_size(ec)).c_str());
        }
    }
    ImGui::EndChild();
    if (enter) list(*enter);

    ImGui::SetNextItemWidth(-1);
    const bool entered = ImGui::InputTextWithHint("##path", "a .gguf file", &typed_, ImGuiInputTextFlags_EnterReturnsTrue);
    if ((ImGui::Button("Open") || entered) && !typed_.empty()) chosen = typed_;
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) ImGui::CloseCurrentPopup();
    if (chosen) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
    return chosen;
}
