// game: a window that keeps drawing at display rate while moe-vk answers a question on the same
// GPU, on the same VkDevice and the same queue as the renderer. Each frame gives the engine a
// slice of GPU time (moevk_session_step with --budget-us), then draws the scene and the reply.
//
//   game [--model PATH] [--prompt TEXT] [--budget-us N] [--max-tokens N] [--seed N]
//        [--frames N] [--warmup-frames N] [--screenshot OUT.png] [--report OUT.json]
//        [--max-batch N] [--trace OUT.csv] [--no-vsync] [--validation]
//
// The model loads on a thread while the window animates; then --warmup-frames frames run
// without generation, then the question is asked. --report writes frame times (count, mean,
// p50, p95, max in ms) for the frames with the generation running and for those without.
#include <moevk/moevk.h>
#include <moevk/moevk_vulkan.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "assistant.h"
#include "frame_summary.h"
#include "overlay.h"
#include "scene.h"
#include "screenshot.h"
#include "window.h"

namespace {

struct Options {
    std::string model = MOEVK_DEMO_MODEL;
    std::string prompt = "Tell me about the licence of this software.";
    uint32_t budget_us = 4000;
    uint32_t max_tokens = 96;
    uint64_t seed = 1;
    uint64_t frames = 0; // 0: until the window closes
    uint64_t warmup_frames = 60;
    // Prompt tokens per forward step. The budget cuts a step between layers, never inside one,
    // so a frame can hold no less than one layer of one step: one token a step keeps frames
    // short on any device (a CPU device takes far longer than a frame for a layer of a batch).
    uint32_t max_batch = 1;
    std::string screenshot;
    std::string trace;
    std::string report;
    bool vsync = true;
    bool validation = false;
};

const char* const kUsage =
    "usage: game [--model PATH] [--prompt TEXT] [--budget-us N] [--max-tokens N] [--seed N]\n"
    "            [--frames N] [--warmup-frames N] [--screenshot OUT.png] [--report OUT.json]\n"
    "            [--max-batch N] [--trace OUT.csv] [--no-vsync] [--validation]\n";

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
            return argv[++i];
        };
        auto number = [&]() -> uint64_t {
            std::string v = value();
            char* end = nullptr;
            unsigned long long n = std::strtoull(v.c_str(), &end, 10);
            if (v.empty() || *end) throw std::invalid_argument(a + ": not a number: " + v);
            return n;
        };
        if (a == "--model") o.model = value();
        else if (a == "--prompt") o.prompt = value();
        else if (a == "--budget-us") o.budget_us = static_cast<uint32_t>(number());
        else if (a == "--max-tokens") o.max_tokens = static_cast<uint32_t>(number());
        else if (a == "--seed") o.seed = number();
        else if (a == "--frames") o.frames = number();
        else if (a == "--warmup-frames") o.warmup_frames = number();
        else if (a == "--screenshot") o.screenshot = value();
        else if (a == "--report") o.report = value();
        else if (a == "--max-batch") o.max_batch = static_cast<uint32_t>(number());
        else if (a == "--trace") o.trace = value();
        else if (a == "--no-vsync") o.vsync = false;
        else if (a == "--validation") o.validation = true;
        else if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else throw std::invalid_argument("unknown flag " + a);
    }
    return o;
}

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    return out + "\"";
}

std::string json_summary(const FrameSummary& s) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "{\"count\": %zu, \"mean\": %.3f, \"p50\": %.3f, \"p95\": %.3f, \"max\": %.3f}", s.count,
                  s.mean, s.p50, s.p95, s.max);
    return buf;
}

void print_summary(const char* name, const FrameSummary& s) {
    if (!s.count) std::printf("  %-11s no frames\n", name);
    else
        std::printf("  %-11s %5zu frames  mean %7.2f  p50 %7.2f  p95 %7.2f  max %7.2f ms\n", name, s.count, s.mean, s.p50,
                    s.p95, s.max);
}

const char* state_name(Assistant::State s) {
    switch (s) {
        case Assistant::State::Loading: return "loading";
        case Assistant::State::Ready: return "ready";
        case Assistant::State::Generating: return "generating";
        case Assistant::State::Done: return "done";
        case Assistant::State::Failed: return "failed";
    }
    return "?";
}

// The panel's status line.
std::string status_line(const Assistant& assistant, Assistant::State state, const moevk_step_result& step,
                        uint64_t frames_to_start) {
    char line[512];
    switch (state) {
        case Assistant::State::Loading:
            return "loading the model on the game's device...";
        case Assistant::State::Ready:
            std::snprintf(line, sizeof line, "model ready; asking in %llu frames", (unsigned long long)frames_to_start);
            return line;
        case Assistant::State::Generating:
            std::snprintf(line, sizeof line, "generating: %u tokens; %u piece(s) this frame, ~%.0f us",
                          assistant.tokens(), step.pieces, step.estimated_gpu_us);
            return line;
        case Assistant::State::Done: {
            const moevk_generation& g = assistant.generation();
            std::snprintf(line, sizeof line, "done (%s): %u tokens at %.1f/s; prompt %u",
                          moevk_end_reason_name(g.end), g.generated_tokens,
                          g.generate_seconds > 0 ? g.generated_tokens / g.generate_seconds : 0.0, g.prompt_tokens);
            return line;
        }
        case Assistant::State::Failed:
            return "error: " + assistant.error();
    }
    return "";
}

int run(const Options& o, std::atomic<uint32_t>& validation_messages) {
    WindowOptions wo;
    wo.vsync = o.vsync;
    wo.validation = o.validation;
    wo.validation_messages = &validation_messages;
    wo.api_version = moevk_host_device_api_version(); // what the engine's calls need of the instance
    Window window(wo);
    Scene scene(window);
    Overlay overlay(window);
    std::optional<Screenshot> screenshot;
    if (!o.screenshot.empty()) screenshot.emplace(window);

    AssistantOptions ao;
    ao.model_path = o.model;
    ao.prompt = o.prompt;
    ao.max_tokens = o.max_tokens;
    ao.budget_us = o.budget_us;
    ao.seed = o.seed;
    ao.max_batch = o.max_batch;
    Assistant assistant(window, ao); // loading starts now, on its own thread

    // Frame times by what the engine was doing during the frame.
    enum Phase { Loading, Idle, Generating };
    std::vector<double> frame_ms[3];
    std::vector<double> step_ms;      // time spent inside moevk_session_step itself
    std::vector<float> recent;        // the plot's window
    struct TraceRow {
        Phase phase;
        double frame_ms, step_ms;
        moevk_step_result step;
    };
    std::vector<TraceRow> trace;      // --trace: one row per frame
    Phase previous = Loading;
    uint64_t ready_frames = 0;
    float activity = 0.0f;
    const double t0 = glfwGetTime();
    double last = t0;
    uint64_t frame = 0;
    const std::string settings = std::string(window.present_mode_name()) + (o.validation ? ", validation on" : "") +
                                 ", budget " + std::to_string(o.budget_us) + " us/frame";
    const std::string device_line = window.device_name() + ", " + settings;

    for (;;) {
        glfwPollEvents();
        const double now = glfwGetTime();
        if (frame > 0) {
            // The time since the previous frame began belongs to that frame's phase.
            frame_ms[previous].push_back((now - last) * 1000.0);
            trace.back().frame_ms = (now - last) * 1000.0;
            recent.push_back(float((now - last) * 1000.0));
            if (recent.size() > 240) recent.erase(recent.begin());
        }
        last = now;
        const bool final = (o.frames && frame + 1 >= o.frames) || window.should_close();

        Assistant::State state = assistant.state();
        if (state == Assistant::State::Ready && ready_frames++ >= o.warmup_frames && !final) {
            assistant.start();
            state = assistant.state();
        }
        const Phase phase = state == Assistant::State::Loading      ? Loading
                            : state == Assistant::State::Generating ? Generating
                                                                    : Idle;
        moevk_step_result step{};
        double this_step_ms = 0;
        if (phase == Generating) {
            const double s0 = glfwGetTime();
            step = assistant.step();
            this_step_ms = (glfwGetTime() - s0) * 1000.0;
            step_ms.push_back(this_step_ms);
            state = assistant.state();
        }
        activity += ((phase == Generating ? 1.0f : 0.0f) - activity) * 0.08f;

        Hud hud;
        hud.device = window.device_name() + "\n" + settings;
        hud.model = assistant.model_description();
        hud.prompt = o.prompt;
        hud.reply = assistant.reply();
        hud.frame_ms = &recent;
        if (state == Assistant::State::Loading) hud.progress = assistant.load_progress();
        hud.status = status_line(assistant, state, step, o.warmup_frames + 1 - std::min(ready_frames, o.warmup_frames + 1));

        Frame f;
        if (!window.begin_frame(f)) continue; // the swapchain was rebuilt: try this frame again
        scene.record(f.cmd, window.extent(), float(now - t0), activity);
        overlay.record(f.cmd, hud);
        if (final && screenshot)
            window.end_frame(f, [&](VkCommandBuffer cmd, VkImage image) { screenshot->record(cmd, image); });
        else
            window.end_frame(f);
        previous = phase;
        trace.push_back({phase, 0.0, this_step_ms, step});
        ++frame;
        if (final) break;
    }

    window.wait_frames();
    if (screenshot) screenshot->save(o.screenshot);
    const Assistant::State state = assistant.state();
    if (state == Assistant::State::Failed) std::fprintf(stderr, "game: %s\n", assistant.error().c_str());

    const FrameSummary loading = summarise(frame_ms[Loading]);
    const FrameSummary idle = summarise(frame_ms[Idle]);
    const FrameSummary generating = summarise(frame_ms[Generating]);
    const FrameSummary steps = summarise(step_ms);
    const moevk_generation& g = assistant.generation();
    const double tps = g.generate_seconds > 0 ? g.generated_tokens / g.generate_seconds : 0.0;
    std::printf("%s, %ux%u: %llu frames; generation %s, %u tokens (%.1f tokens/s)\n", device_line.c_str(),
                window.extent().width, window.extent().height, (unsigned long long)frame, state_name(state),
                assistant.tokens(), tps);
    std::printf("frame times:\n");
    print_summary("loading", loading);
    print_summary("idle", idle);
    print_summary("generating", generating);
    print_summary("step() call", steps);
    std::printf("the engine took the queue lock %llu times\n", (unsigned long long)assistant.engine_queue_locks());

    if (!o.trace.empty()) {
        std::ofstream out(o.trace);
        out << "frame,phase,frame_ms,step_ms,pieces,estimated_gpu_us,new_tokens,in_flight\n";
        const char* names[] = {"loading", "idle", "generating"};
        for (size_t i = 0; i < trace.size(); ++i) {
            const TraceRow& t = trace[i];
            out << i << ',' << names[t.phase] << ',' << t.frame_ms << ',' << t.step_ms << ',' << t.step.pieces << ','
                << t.step.estimated_gpu_us << ',' << t.step.new_tokens << ',' << t.step.in_flight << '\n';
        }
        if (!out) throw std::runtime_error("--trace: cannot write " + o.trace);
    }
    if (!o.report.empty()) {
        std::ostringstream j;
        j << "{\n  \"device\": " << json_string(window.device_name()) << ",\n  \"present_mode\": \""
          << window.present_mode_name() << "\",\n  \"extent\": [" << window.extent().width << ", "
          << window.extent().height << "],\n  \"budget_us\": " << o.budget_us << ",\n  \"frames\": " << frame
          << ",\n  \"validation\": " << (o.validation ? "true" : "false")
          << ",\n  \"validation_messages\": " << validation_messages.load() << ",\n  \"frame_ms\": {\n    \"idle\": "
          << json_summary(idle) << ",\n    \"generating\": " << json_summary(generating)
          << ",\n    \"loading\": " << json_summary(loading) << "\n  },\n  \"step_call_ms\": " << json_summary(steps)
          << ",\n  \"engine_queue_locks\": " << assistant.engine_queue_locks()
          << ",\n  \"generation\": {\"state\": \"" << state_name(state) << "\", \"end\": "
          << json_string(g.end ? moevk_end_reason_name(g.end) : "") << ", \"tokens\": " << assistant.tokens()
          << ", \"prompt_tokens\": " << g.prompt_tokens << ", \"prompt_seconds\": " << g.prompt_seconds
          << ", \"generate_seconds\": " << g.generate_seconds << ", \"tokens_per_second\": " << tps
          << ", \"error\": " << json_string(assistant.error()) << "},\n  \"reply\": " << json_string(assistant.reply())
          << "\n}\n";
        std::ofstream out(o.report);
        out << j.str();
        if (!out) throw std::runtime_error("--report: cannot write " + o.report);
    }
    return state == Assistant::State::Failed ? 1 : 0;
    // The assistant goes first (stopping a generation still running, destroying its handles),
    // then what drew, then the window and its device: the device outlives the engine.
}

}  // namespace

int main(int argc, char** argv) {
    std::atomic<uint32_t> validation_messages{0}; // outlives the window: the device's and the
                                                  // instance's destruction are checked too
    int status = 0;
    try {
        status = run(parse(argc, argv), validation_messages);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "game: %s\n%s", e.what(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "game: %s\n", e.what());
        status = 1;
    }
    if (validation_messages.load()) {
        std::fprintf(stderr, "game: %u validation message(s)\n", validation_messages.load());
        if (!status) status = 3;
    }
    return status;
}
