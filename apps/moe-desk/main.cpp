// moe-desk: the desktop chat app. One window (GLFW, Dear ImGui) whose own Vulkan device both
// draws and runs the engine: the conversations, the chat streaming as it is written, the model's
// facts and settings, and which experts each layer routes to. The engine gets a slice of GPU
// time each frame (moevk_session_step), so the window stays responsive while the model works.
//
//   moe-desk [-m MODEL] [--data-dir DIR] [--script FILE] [--screenshot OUT.png] [--validation]
//            [--width N] [--height N] [--no-vsync]
//
// Without --script it opens MODEL, or the demo model in assets/. With --script it runs the
// script's commands (script.h) and exits: 0 when every one held, 1 when one failed (the line
// and why on stderr), 3 when the validation layer spoke.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <optional>

#include <moevk/moevk_vulkan.h>

#include "../common/default_model.h"
#include "app.h"
#include "frame_stats.h"
#include "imgui_vulkan.h"
#include "screenshot.h"
#include "script.h"
#include "ui.h"
#include "window.h"

namespace {

struct Options {
    std::string model, data_dir, script, screenshot;
    int width = 1280, height = 800;
    bool validation = false, vsync = true;
};

nlohmann::json summary_json(const FrameSummary& s) {
    return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50}, {"p95", s.p95}, {"max", s.max}};
}

// What `dump` writes: enough for a test to check the app against other tools.
nlohmann::json state_json(const App& app, const FrameStats& frames, const Window& window) {
    using nlohmann::json;
    const ChatEngine& engine = app.engine();
    json conversations = json::array();
    for (const Conversation& c : app.conversations()) {
        json messages = json::array();
        for (const ChatMessage& m : c.messages)
            messages.push_back({{"role", m.role == ChatMessage::Role::User ? "user" : "assistant"}, {"text", m.text}});
        conversations.push_back({{"title", c.title}, {"system", c.system}, {"messages", messages}});
    }
    const moevk_model_info& info = engine.model_info();
    json heat = json::array();
    const std::vector<uint64_t>& h = engine.expert_heat();
    for (uint32_t l = 0; info.n_experts && l < info.n_layers && h.size() == size_t(info.n_layers) * info.n_experts; ++l)
        heat.push_back(std::vector<uint64_t>(h.begin() + size_t(l) * info.n_experts, h.begin() + size_t(l + 1) * info.n_experts));
    const moevk_generation& g = engine.generation();
    const moevk_session_info si = engine.session_info();
    return {{"device", window.device_name()},
            {"model", {{"path", engine.model_path()}, {"loaded", engine.has_model()}, {"architecture", info.architecture},
                       {"n_layers", info.n_layers}, {"n_experts", info.n_experts}, {"top_k", info.top_k}}},
            {"errors", app.errors()},
            {"current", app.current()},
            {"conversations", conversations},
            {"reply", engine.reply()},
            {"reply_tokens", engine.reply_tokens()},
            {"generation", {{"end", g.end ? moevk_end_reason_name(g.end) : ""}, {"prompt_tokens", g.prompt_tokens},
                            {"prompt_seconds", g.prompt_seconds}, {"generated_tokens", g.generated_tokens},
                            {"generate_seconds", g.generate_seconds}}},
            {"history", engine.history()},
            {"expert_heat", heat},
            {"heat_from", engine.heat_from()},
            {"session", {{"n_ctx", si.n_ctx}, {"position", si.position}, {"paged", si.paged != 0}}},
            {"budget_us", app.settings().budget_us},
            {"frame_ms", {{"generating", summary_json(summarise(frames.generating))},
                          {"idle", summary_json(summarise(frames.idle))},
                          {"step_call", summary_json(summarise(frames.step_call_ms))}}},
            {"validation_messages", window.validation_messages()}};
}

int run(const Options& o, std::atomic<uint32_t>& validation_messages) {
    WindowOptions wo;
    wo.width = o.width;
    wo.height = o.height;
    wo.title = "moe-desk";
    wo.vsync = o.vsync;
    wo.validation = o.validation;
    wo.validation_messages = &validation_messages;
    wo.api_version = moevk_host_device_api_version(); // what the engine's calls need of the instance
    Window window(wo);
    ImGuiVulkan imgui(window, 17.0f);
    Screenshot screenshot(window);
    App app(window, Store(data_folder(o.data_dir)));
    UiState ui;
    ui.present_mode = window.present_mode_name();
    FrameStats frames;

    std::optional<Script> script;
    if (!o.script.empty()) script.emplace(o.script);
    if (!o.model.empty()) app.open_model(o.model);

    std::string screenshot_path; // asked for, not yet saved
    bool screenshot_recorded = false;
    ScriptHooks hooks;
    hooks.screenshot = [&](const std::string& path) { screenshot_path = path; };
    hooks.screenshot_pending = [&] { return !screenshot_path.empty(); };
    hooks.dump = [&](const std::string& path) {
        std::ofstream out(path);
        out << state_json(app, frames, window).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        out.flush();
        if (!out) throw std::runtime_error("cannot write " + path);
    };

    hooks.open_picker = [&](const std::string& folder) { ui.picker.open(folder); };
    hooks.pick = [&](const std::string& name) { return ui.picker.choose(name); };

    double last = glfwGetTime();
    bool was_generating = false, first = true, script_running = script.has_value();
    for (;;) {
        glfwPollEvents();
        const double now = glfwGetTime();
        if (!first) frames.add((now - last) * 1000.0, was_generating, app.engine().has_model());
        first = false;
        last = now;

        // The engine's slice of this frame (it returns without waiting for the GPU).
        was_generating = app.generating();
        const double s0 = glfwGetTime();
        app.update();
        if (was_generating) frames.step_call_ms.push_back((glfwGetTime() - s0) * 1000.0);
        if (script_running && !script->advance(app, hooks, now)) script_running = false;
        const bool final = window.should_close() || (script && !script_running);
        if (final && !o.screenshot.empty() && screenshot_path.empty() && !screenshot_recorded) screenshot_path = o.screenshot;

        Frame f;
        if (!window.begin_frame(f)) continue; // the swapchain was rebuilt: draw again
        imgui.new_frame();
        draw_ui(app, ui, frames);
        imgui.render(f.cmd);
        if (!screenshot_path.empty()) {
            window.end_frame(f, [&](VkCommandBuffer cmd, VkImage image) { screenshot.record(cmd, image); });
            window.wait_frames();
            screenshot.save(screenshot_path);
            screenshot_path.clear();
            screenshot_recorded = final;
        } else {
            window.end_frame(f);
        }
        if (final && screenshot_path.empty()) break;
    }
    window.wait_frames();
    if (script && script->failed()) {
        std::fprintf(stderr, "moe-desk: %s\n", script->failure().c_str());
        return 1;
    }
    return 0;
    // The app goes first (stopping a reply still running, destroying the engine's handles), then
    // what drew, then the window and its device: the device outlives the engine.
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"moe-desk: the moe-vk desktop chat"};
    Options o;
    cli.add_option("-m,--model", o.model, "GGUF model to open (default: the demo model in assets/)");
    cli.add_option("--data-dir", o.data_dir, "where conversations and settings are kept (default: $XDG_DATA_HOME/moe-desk)");
    cli.add_option("--script", o.script, "run the commands in FILE, then exit (see apps/moe-desk/script.h)")
        ->check(CLI::ExistingFile);
    cli.add_option("--screenshot", o.screenshot, "save the last frame as a PNG when the script ends or the window closes");
    cli.add_option("--width", o.width, "window width")->check(CLI::Range(320, 8192))->capture_default_str();
    cli.add_option("--height", o.height, "window height")->check(CLI::Range(240, 8192))->capture_default_str();
    cli.add_flag("--validation", o.validation, "turn on the Vulkan validation layer; any message fails the run");
    bool no_vsync = false;
    cli.add_flag("--no-vsync", no_vsync, "present without waiting for the display");
    CLI11_PARSE(cli, argc, argv);
    o.vsync = !no_vsync;
    if (o.model.empty() && o.script.empty()) o.model = moevk::apps::default_model(argv[0]);

    std::atomic<uint32_t> validation_messages{0}; // outlives the window: its destruction is checked too
    int status = 0;
    try {
        status = run(o, validation_messages);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "moe-desk: %s\n", e.what());
        status = 1;
    }
    if (validation_messages.load()) {
        std::fprintf(stderr, "moe-desk: %u validation message(s)\n", validation_messages.load());
        if (!status) status = 3;
    }
    return status;
}
