// The window's widgets, drawn with Dear ImGui each frame: the menu, the conversations on the
// left, the chat in the middle, and on the right what the engine is doing (the experts each
// layer routes to, speeds, paging), the model's facts and the settings; a debug overlay with
// frame times. Every action goes through App.
#pragma once

#include <string>

#include "app.h"
#include "file_picker.h"
#include "frame_stats.h"

struct UiState {
    std::string input;         // the message being typed
    std::string edit;          // the last user message being edited
    bool editing = false;
    std::string rename;        // the conversation title being edited
    size_t renaming = 0;
    bool open_rename = false;
    std::string system;        // the system prompt box
    size_t system_of = SIZE_MAX; // the conversation `system` was taken from
    Settings draft;            // the settings panel's values until Apply
    bool draft_taken = false;
    bool show_debug = true;
    FilePicker picker;
    std::string present_mode;  // for the debug overlay
};

void draw_ui(App& app, UiState& ui, const FrameStats& frames);

// Parts of the right-hand panel (experts_view.cpp, settings_view.cpp).
void draw_experts(const ChatEngine& engine);
void draw_model_facts(const ChatEngine& engine);
void draw_settings(App& app, UiState& ui);
