// The Model and Settings tabs: the open model's facts, and the settings with what a change
// costs (sampling applies at once, context and prompt batch make a new session, a VRAM budget
// or cache policy reloads the model).
#include <imgui.h>
#include <imgui_stdlib.h>

#include <cstdio>

#include "ui.h"

namespace {

void fact(const char* name, const std::string& value) {
    ImGui::TextDisabled("%s", name);
    ImGui::SameLine(150);
    ImGui::TextWrapped("%s", value.c_str());
}

std::string mib(uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / double(1 << 20));
    return text;
}

}  // namespace

void draw_model_facts(const ChatEngine& engine) {
    if (!engine.has_model()) {
        ImGui::TextDisabled("No model open.");
        return;
    }
    const moevk_model_info& i = engine.model_info();
    fact("File", engine.model_path());
    if (*i.name) fact("Name", i.name);
    fact("Architecture", i.architecture);
    fact("Layers", std::to_string(i.n_layers));
    fact("Experts", std::to_string(i.n_experts) + ", top-" + std::to_string(i.top_k) +
                        (i.n_shared_experts ? " + shared expert" : ""));
    fact("Width", "d_model " + std::to_string(i.d_model) + ", expert d_ff " + std::to_string(i.d_ff));
    fact("Heads", std::to_string(i.n_heads) + " (" + std::to_string(i.n_kv_heads) + " KV)");
    fact("Vocabulary", std::to_string(i.n_vocab) + " tokens");
    fact("Context", std::to_string(i.n_ctx_train) + " trained; session " + std::to_string(engine.session_info().n_ctx));
    fact("Quantisation", std::string(i.expert_format) + " experts");
    fact("Chat format", *i.chat_template ? i.chat_template : "none recognised");
    fact("File size", mib(i.file_bytes));
    fact("On the device", mib(i.device_bytes) + (i.experts_paged ? ", experts paged" : ""));
    fact("Device", engine.device_name());
    ImGui::Spacing();
    ImGui::TextWrapped("%s", i.description);
}

void draw_settings(App& app, UiState& ui) {
    if (!ui.draft_taken) {
        ui.draft = app.settings();
        ui.draft_taken = true;
    }
    Settings& s = ui.draft;
    ImGui::TextDisabled("Sampling (applies to the next reply)");
    ImGui::SliderFloat("temperature", &s.temperature, 0.0f, 2.0f, "%.2f");
    ImGui::SliderInt("top-k", &s.top_k, 0, 200);
    ImGui::SliderFloat("top-p", &s.top_p, 0.0f, 1.0f, "%.2f");
    ImGui::SliderFloat("min-p", &s.min_p, 0.0f, 1.0f, "%.2f");
    ImGui::SliderFloat("repeat penalty", &s.repeat_penalty, 1.0f, 2.0f, "%.2f");
    ImGui::SliderFloat("frequency penalty", &s.frequency_penalty, 0.0f, 2.0f, "%.2f");
    ImGui::SliderFloat("presence penalty", &s.presence_penalty, 0.0f, 2.0f, "%.2f");
    ImGui::InputScalar("seed (0: random)", ImGuiDataType_U64, &s.seed);
    ImGui::InputScalar("max reply tokens", ImGuiDataType_U32, &s.max_tokens);

    ImGui::Spacing();
    ImGui::TextDisabled("Session (a change starts an empty cache)");
    ImGui::InputScalar("context (0: model's)", ImGuiDataType_U32, &s.n_ctx);
    ImGui::InputScalar("prompt batch (0: auto)", ImGuiDataType_U32, &s.max_batch);
    ImGui::InputScalar("GPU us per frame", ImGuiDataType_U32, &s.budget_us);

    ImGui::Spacing();
    ImGui::TextDisabled("Model (a change reloads it)");
    ImGui::InputTextWithHint("VRAM budget", "all resident; or 6G, 50%, min", &s.vram_budget);
    int policy = s.cache_policy == "lfu" ? 1 : 0;
    ImGui::RadioButton("LRU", &policy, 0);
    ImGui::SameLine();
    ImGui::RadioButton("LFU", &policy, 1);
    ImGui::SameLine();
    ImGui::TextDisabled("expert cache policy");
    s.cache_policy = policy ? "lfu" : "lru";

    ImGui::Spacing();
    if (ImGui::Button("Apply")) app.apply_settings(s);
    ImGui::SameLine();
    if (ImGui::Button("Revert")) ui.draft = app.settings();
}
