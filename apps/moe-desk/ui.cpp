#include "ui.h"

#include <imgui.h>
#include <imgui_stdlib.h>

#include <cstdio>
#include <filesystem>

namespace {

const ImVec4 kUserColour(0.55f, 0.8f, 1.0f, 1.0f);
const ImVec4 kAssistantColour(1.0f, 0.8f, 0.45f, 1.0f);
const ImVec4 kErrorColour(1.0f, 0.45f, 0.4f, 1.0f);

void draw_menu(App& app, UiState& ui) {
    if (!ImGui::BeginMenuBar()) return;
    if (ImGui::BeginMenu("Model")) {
        if (ImGui::MenuItem("Open...", nullptr, false, !app.loading())) {
            std::filesystem::path folder;
            if (!app.settings().recent_models.empty())
                folder = std::filesystem::path(app.settings().recent_models.front()).parent_path();
            ui.picker.open(folder);
        }
        if (ImGui::BeginMenu("Recent", !app.settings().recent_models.empty() && !app.loading())) {
            for (const std::string& path : app.settings().recent_models)
                if (ImGui::MenuItem(path.c_str())) app.open_model(path);
            ImGui::EndMenu();
        }
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("Conversation")) {
        if (ImGui::MenuItem("New")) app.new_conversation();
        if (ImGui::MenuItem("Rename...")) {
            ui.renaming = app.current();
            ui.rename = app.conversation().title;
            ui.open_rename = true;
        }
        if (ImGui::MenuItem("Delete")) app.remove(app.current());
        ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("View")) {
        ImGui::MenuItem("Frame times", nullptr, &ui.show_debug);
        ImGui::EndMenu();
    }
    ImGui::EndMenuBar();
}

void draw_conversation_list(App& app, UiState& ui) {
    if (ImGui::Button("+ New conversation", ImVec2(-1, 0))) app.new_conversation();
    ImGui::Separator();
    for (size_t i = app.conversations().size(); i-- > 0;) { // the newest at the top
        const Conversation& c = app.conversations()[i];
        ImGui::PushID(int(i));
        if (ImGui::Selectable(c.title.c_str(), i == app.current())) app.select(i);
        if (ImGui::BeginPopupContextItem()) {
            if (ImGui::MenuItem("Rename...")) {
                ui.renaming = i;
                ui.rename = c.title;
                ui.open_rename = true;
            }
            if (ImGui::MenuItem("Delete")) app.remove(i);
            ImGui::EndPopup();
        }
        ImGui::PopID();
    }
}

void draw_rename_popup(App& app, UiState& ui) {
    if (ui.open_rename) {
        ImGui::OpenPopup("Rename");
        ui.open_rename = false;
    }
    if (!ImGui::BeginPopupModal("Rename", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return;
    if (ImGui::IsWindowAppearing()) ImGui::SetKeyboardFocusHere();
    ImGui::SetNextItemWidth(400);
    const bool entered = ImGui::InputText("##title", &ui.rename, ImGuiInputTextFlags_EnterReturnsTrue);
    if (ImGui::Button("Rename") || entered) {
        app.rename(ui.renaming, ui.rename);
        ImGui::CloseCurrentPopup();
    }
    ImGui::SameLine();
    if (ImGui::Button("Cancel")) ImGui::CloseCurrentPopup();
    ImGui::EndPopup();
}

// The strip over the chat: the model, its loading bar (with cancel), the errors.
void draw_status(App& app) {
    ChatEngine& engine = app.engine();
    if (app.loading()) {
        ImGui::TextUnformatted(("Loading " + engine.model_path()).c_str());
        ImGui::ProgressBar(engine.load_progress(), ImVec2(ImGui::GetContentRegionAvail().x - 90, 0));
        ImGui::SameLine();
        if (ImGui::Button("Cancel", ImVec2(-1, 0))) app.cancel_load();
    } else if (engine.has_model()) {
        const moevk_model_info& info = engine.model_info();
        ImGui::Text("%s", *info.name ? info.name : std::filesystem::path(engine.model_path()).filename().c_str());
        ImGui::SameLine();
        ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
        ImGui::TextWrapped("%s, %u experts, top-%u, on %s", info.architecture, info.n_experts, info.top_k,
                           engine.device_name().c_str());
        ImGui::PopStyleColor();
    } else {
        ImGui::TextDisabled("No model open: Model > Open");
    }
    if (!app.errors().empty()) {
        // As tall as the wrapped messages (up to a limit, then it scrolls).
        const ImGuiStyle& style = ImGui::GetStyle();
        const float wrap = ImGui::GetContentRegionAvail().x - 2 * style.WindowPadding.x;
        float height = ImGui::GetFrameHeightWithSpacing() + 2 * style.WindowPadding.y;
        for (const std::string& e : app.errors())
            height += ImGui::CalcTextSize(e.c_str(), nullptr, false, wrap).y + style.ItemSpacing.y;
        ImGui::PushStyleColor(ImGuiCol_ChildBg, ImVec4(0.35f, 0.1f, 0.1f, 0.6f));
        ImGui::BeginChild("errors", ImVec2(0, std::min(height, 220.0f)), true);
        ImGui::PushStyleColor(ImGuiCol_Text, kErrorColour);
        for (const std::string& e : app.errors()) ImGui::TextWrapped("%s", e.c_str()); // never a format
        ImGui::PopStyleColor();
        if (ImGui::SmallButton("Dismiss")) app.dismiss_errors();
        ImGui::EndChild();
        ImGui::PopStyleColor();
    }
}

void draw_system_prompt(App& app, UiState& ui) {
    if (ui.system_of != app.current()) {
        ui.system = app.conversation().system;
        ui.system_of = app.current();
    }
    if (!ImGui::CollapsingHeader(app.conversation().system.empty() ? "System prompt (none)" : "System prompt")) return;
    ImGui::InputTextMultiline("##system", &ui.system, ImVec2(-1, ImGui::GetTextLineHeight() * 3));
    if (ImGui::Button("Set system prompt") && !app.busy()) app.set_system(ui.system);
}

void draw_messages(App& app, UiState& ui, float height) {
    ImGui::BeginChild("messages", ImVec2(0, height), true);
    const Conversation& c = app.conversation();
    const bool streaming = app.generating();
    size_t last_user = SIZE_MAX;
    for (size_t i = 0; i < c.messages.size(); ++i)
        if (c.messages[i].role == ChatMessage::Role::User) last_user = i;

    for (size_t i = 0; i < c.messages.size(); ++i) {
        const ChatMessage& m = c.messages[i];
        const bool user = m.role == ChatMessage::Role::User;
        ImGui::PushID(int(i));
        ImGui::TextColored(user ? kUserColour : kAssistantColour, user ? "You" : "Assistant");
        ImGui::SameLine();
        if (ImGui::SmallButton("Copy")) ImGui::SetClipboardText(m.text.c_str());
        if (user && i == last_user && !app.busy()) {
            ImGui::SameLine();
            if (ImGui::SmallButton("Edit")) {
                ui.editing = true;
                ui.edit = m.text;
            }
        }
        if (!user && i + 1 == c.messages.size() && !app.busy()) {
            ImGui::SameLine();
            if (ImGui::SmallButton("Regenerate")) app.regenerate();
        }
        if (user && i == last_user && ui.editing) {
            ImGui::InputTextMultiline("##edit", &ui.edit, ImVec2(-1, ImGui::GetTextLineHeight() * 4));
            if (ImGui::Button("Resend")) ui.editing = !app.edit_last(ui.edit);
            ImGui::SameLine();
            if (ImGui::Button("Cancel")) ui.editing = false;
        } else {
            ImGui::TextWrapped("%s", m.text.c_str());
        }
        ImGui::Spacing();
        ImGui::PopID();
    }
    if (streaming) {
        ImGui::TextColored(kAssistantColour, "Assistant");
        ImGui::SameLine();
        ImGui::TextDisabled("writing... %u tokens", app.engine().reply_tokens());
        ImGui::TextWrapped("%s", app.engine().reply().c_str());
    }
    // Keeps up with the newest text unless the reader has scrolled up.
    if (ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 4.0f) ImGui::SetScrollHereY(1.0f);
    ImGui::EndChild();
}

void draw_input(App& app, UiState& ui) {
    const float button = 90.0f;
    ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - button - ImGui::GetStyle().ItemSpacing.x);
    const bool entered = ImGui::InputTextMultiline("##input", &ui.input, ImVec2(ImGui::GetContentRegionAvail().x - button - ImGui::GetStyle().ItemSpacing.x, ImGui::GetTextLineHeight() * 3),
                                                   ImGuiInputTextFlags_EnterReturnsTrue | ImGuiInputTextFlags_CtrlEnterForNewLine);
    ImGui::SameLine();
    if (app.generating()) {
        if (ImGui::Button("Stop", ImVec2(-1, ImGui::GetTextLineHeight() * 3))) app.stop();
    } else {
        ImGui::BeginDisabled(app.busy() || !app.engine().has_model());
        if ((ImGui::Button("Send", ImVec2(-1, ImGui::GetTextLineHeight() * 3)) || entered) && app.send(ui.input))
            ui.input.clear();
        ImGui::EndDisabled();
    }
}

// Frame times, at the bottom of the right-hand panel (View > Frame times hides it).
void draw_frame_times(const UiState& ui, const FrameStats& frames, const App& app) {
    const float height = 50.0f + 2 * ImGui::GetTextLineHeightWithSpacing();
    ImGui::SetCursorPosY(std::max(ImGui::GetCursorPosY(), ImGui::GetWindowHeight() - height - ImGui::GetStyle().WindowPadding.y));
    ImGui::Separator();
    if (!frames.recent.empty()) {
        float worst = 0;
        for (float v : frames.recent) worst = std::max(worst, v);
        char label[96];
        std::snprintf(label, sizeof label, "frame %.1f ms (worst of 240: %.1f)", frames.recent.back(), worst);
        ImGui::PlotLines("##frames", frames.recent.data(), int(frames.recent.size()), 0, label, 0.0f, 50.0f,
                         ImVec2(ImGui::GetContentRegionAvail().x, 50));
    }
    const moevk_step_result& step = app.engine().last_step();
    ImGui::TextDisabled("%s; %u us a frame; last: %u piece(s), ~%.0f us", ui.present_mode.c_str(),
                        app.settings().budget_us, step.pieces, step.estimated_gpu_us);
}

}  // namespace

void draw_ui(App& app, UiState& ui, const FrameStats& frames) {
    const ImGuiViewport* viewport = ImGui::GetMainViewport();
    ImGui::SetNextWindowPos(viewport->WorkPos);
    ImGui::SetNextWindowSize(viewport->WorkSize);
    ImGui::PushStyleVar(ImGuiStyleVar_WindowRounding, 0.0f);
    ImGui::Begin("moe-desk", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_MenuBar | ImGuiWindowFlags_NoBringToFrontOnFocus |
                     ImGuiWindowFlags_NoMove);
    ImGui::PopStyleVar();
    draw_menu(app, ui);

    const float width = ImGui::GetContentRegionAvail().x;
    const float side = std::max(180.0f, width * 0.18f);
    const float panel = std::max(300.0f, width * 0.30f);

    ImGui::BeginChild("conversations", ImVec2(side, 0), true);
    draw_conversation_list(app, ui);
    ImGui::EndChild();
    ImGui::SameLine();

    ImGui::BeginChild("chat", ImVec2(width - side - panel - 2 * ImGui::GetStyle().ItemSpacing.x, 0), false);
    draw_status(app);
    draw_system_prompt(app, ui);
    const float input_height = ImGui::GetTextLineHeight() * 3 + ImGui::GetStyle().ItemSpacing.y * 2 + 8;
    draw_messages(app, ui, ImGui::GetContentRegionAvail().y - input_height);
    draw_input(app, ui);
    ImGui::EndChild();
    ImGui::SameLine();

    ImGui::BeginChild("panel", ImVec2(0, 0), true);
    const float frame_times = ui.show_debug ? 60.0f + 3 * ImGui::GetTextLineHeightWithSpacing() : 0.0f;
    ImGui::BeginChild("tabs", ImVec2(0, -frame_times), false);
    if (ImGui::BeginTabBar("panels")) {
        if (ImGui::BeginTabItem("Experts")) {
            draw_experts(app.engine());
            ImGui::EndTabItem();
        }
        if (ImGui::BeginTabItem("Model")) {
            draw_model_facts(app.engine());
            ImGui::EndTabItem();
        }
        if (ImGui::BeginTabItem("Settings")) {
            draw_settings(app, ui);
            ImGui::EndTabItem();
        }
        ImGui::EndTabBar();
    }
    ImGui::EndChild();
    if (ui.show_debug) draw_frame_times(ui, frames, app);
    ImGui::EndChild();

    if (std::optional<std::string> path = ui.picker.draw(app.settings().recent_models)) app.open_model(*path);
    draw_rename_popup(app, ui);
    ImGui::End();
}
