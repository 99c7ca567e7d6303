// The Experts tab: what only an MoE engine can show. A heatmap of the (token, k) pairs each
// layer routed to each expert during the current or last reply (its prompt and its tokens),
// each row scaled to its own busiest expert; the load balance of each layer; and with paging,
// the expert cache's hit rate, the bytes uploaded and the device memory in use. Then speeds.
#include <imgui.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ui.h"

namespace {

void section(const char* title) {
    ImGui::Spacing();
    ImGui::TextDisabled("%s", title);
    ImGui::Separator();
}

// Dark blue (no tokens) to yellow (the layer's busiest expert).
ImU32 heat_colour(float t) {
    t = std::clamp(t, 0.0f, 1.0f);
    const float r = 0.08f + 0.92f * std::min(1.0f, t * 1.6f);
    const float g = 0.10f + 0.80f * t * t;
    const float b = 0.25f + 0.35f * (1.0f - t) - 0.2f * t;
    return ImGui::ColorConvertFloat4ToU32(ImVec4(r, g, std::max(b, 0.05f), 1.0f));
}

// Normalised entropy of a layer's routing: 1 when every expert got the same share, 0 when one
// got all of it.
double balance(const uint64_t* counts, uint32_t n) {
    uint64_t total = 0;
    for (uint32_t e = 0; e < n; ++e) total += counts[e];
    if (!total || n < 2) return 1.0;
    double h = 0;
    for (uint32_t e = 0; e < n; ++e)
        if (counts[e]) {
            const double p = double(counts[e]) / total;
            h -= p * std::log(p);
        }
    return h / std::log(double(n));
}

void draw_heatmap(const ChatEngine& engine) {
    const moevk_model_info& info = engine.model_info();
    const std::vector<uint64_t>& heat = engine.expert_heat();
    const uint32_t layers = info.n_layers, experts = info.n_experts;
    if (heat.size() != size_t(layers) * experts || !layers || !experts) {
        ImGui::TextDisabled("Send a message to see which experts each layer routes to.");
        return;
    }
    uint64_t pairs = 0;
    for (uint64_t v : heat) pairs += v;
    ImGui::TextWrapped("Routing of the %s reply: %llu (token, expert) pairs", engine.state_now() == ChatEngine::State::Generating ? "current" : "last",
                (unsigned long long)pairs);
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("rows: layers 0..%u; columns: experts 0..%u; right: balance", layers - 1, experts - 1);
    ImGui::PopStyleColor();

    const float balance_width = 70.0f;
    const float avail = ImGui::GetContentRegionAvail().x - balance_width;
    const float cell_w = std::max(2.0f, std::floor(avail / experts));
    const float cell_h = std::clamp(std::floor(ImGui::GetContentRegionAvail().y * 0.45f / layers), 3.0f, cell_w);
    ImDrawList* draw = ImGui::GetWindowDrawList();
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    for (uint32_t l = 0; l < layers; ++l) {
        const uint64_t* row = &heat[size_t(l) * experts];
        const uint64_t busiest = *std::max_element(row, row + experts);
        for (uint32_t e = 0; e < experts; ++e) {
            const ImVec2 a(origin.x + e * cell_w, origin.y + l * cell_h);
            const ImVec2 b(a.x + cell_w - 1, a.y + cell_h - 1);
            draw->AddRectFilled(a, b, heat_colour(busiest ? float(row[e]) / float(busiest) : 0.0f));
            if (mouse.x >= a.x && mouse.x < b.x && mouse.y >= a.y && mouse.y < b.y)
                ImGui::SetTooltip("layer %u, expert %u: %llu", l, e, (unsigned long long)row[e]);
        }
        // The balance as a bar after the row.
        const double bal = balance(row, experts);
        const ImVec2 a(origin.x + experts * cell_w + 6, origin.y + l * cell_h);
        draw->AddRectFilled(a, ImVec2(a.x + float(bal) * (balance_width - 10), a.y + cell_h - 1),
                            ImGui::GetColorU32(ImGuiCol_PlotHistogram));
    }
    ImGui::Dummy(ImVec2(experts * cell_w + balance_width, layers * cell_h));

    double worst = 1.0, mean = 0;
    uint32_t worst_layer = 0;
    for (uint32_t l = 0; l < layers; ++l) {
        const double b = balance(&heat[size_t(l) * experts], experts);
        mean += b / layers;
        if (b < worst) worst = b, worst_layer = l;
    }
    ImGui::TextWrapped("Balance: mean %.2f, least balanced layer %u (%.2f)", mean, worst_layer, worst);
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("balance: 1 = every expert an equal share, 0 = one expert took all");
    ImGui::PopStyleColor();
}

void draw_speeds(const ChatEngine& engine) {
    section("Speed");
    const moevk_generation& g = engine.generation();
    if (engine.state_now() == ChatEngine::State::Generating) {
        ImGui::Text("Writing: %u tokens in %.1f s", engine.reply_tokens(), engine.reply_seconds());
    } else if (g.end != MOEVK_END_NONE) {
        ImGui::Text("Prompt: %u tokens in %.2f s (%.1f tokens/s)", g.prompt_tokens, g.prompt_seconds,
                    g.prompt_seconds > 0 ? g.prompt_tokens / g.prompt_seconds : 0.0);
        ImGui::TextWrapped("Reply: %u tokens in %.2f s (%.1f tokens/s), ended by %s", g.generated_tokens, g.generate_seconds,
                    g.generate_seconds > 0 ? g.generated_tokens / g.generate_seconds : 0.0, moevk_end_reason_name(g.end));
    }
    const moevk_session_info si = engine.session_info();
    ImGui::Text("Context: %u of %u positions", si.position, si.n_ctx);
}

void draw_paging(const ChatEngine& engine) {
    section("Memory");
    const moevk_session_info si = engine.session_info();
    ImGui::Text("Device memory: %.1f MiB", si.device_bytes / double(1 << 20));
    if (!si.paged) {
        ImGui::TextDisabled("Every expert is resident (no VRAM budget set).");
        return;
    }
    const moevk_session_stats st = engine.session_stats();
    const uint64_t lookups = st.expert_hits + st.expert_misses;
    ImGui::Text("Expert slots: %u of %u", si.expert_slots, si.total_experts);
    ImGui::Text("Cache hit rate: %.1f%% (%llu of %llu)", lookups ? 100.0 * st.expert_hits / lookups : 0.0,
                (unsigned long long)st.expert_hits, (unsigned long long)lookups);
    ImGui::Text("Uploaded: %.1f MiB; waited %.2f s", st.bytes_uploaded / double(1 << 20), st.upload_wait_seconds);
    if (st.prefetched)
        ImGui::Text("Prefetch: %llu used of %llu", (unsigned long long)st.prefetch_used, (unsigned long long)st.prefetched);
    ImGui::TextWrapped("%s", si.plan);
}

}  // namespace

void draw_experts(const ChatEngine& engine) {
    if (!engine.has_model()) {
        ImGui::TextDisabled("No model open.");
        return;
    }
    draw_heatmap(engine);
    draw_speeds(engine);
    draw_paging(engine);
}
