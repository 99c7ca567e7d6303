// moe-server: an OpenAI-compatible HTTP server for a mixture-of-experts GGUF model, with a
// web chat page. Built on the public API only (moevk.hpp), as any embedder would be: one
// Engine, one Model, and N Sessions (slots) that the scheduler thread moves together, one batch
// step (moevk_batch_step) a turn.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <moevk/moevk.hpp>
#include <thread>

#include "../common/chat_model.h"
#include "../common/default_model.h"
#include "../common/device_flags.h"
#include "../common/paging_flags.h"
#include "../common/session_flags.h"
#include "metrics.h"
#include "routes.h"
#include "scheduler.h"
#include "server_context.h"

using namespace moevk;

namespace {

// Stops the server on SIGINT or SIGTERM. The signals are blocked in every thread and taken
// here with sigwait, so the stop runs on an ordinary thread rather than in a signal handler.
class StopOnSignal {
  public:
    StopOnSignal() {
        sigemptyset(&signals_);
        sigaddset(&signals_, SIGINT);
        sigaddset(&signals_, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &signals_,
                        nullptr);  // before any thread starts: they inherit it
    }
    void watch(httplib::Server& server) {
        thread_ = std::thread([this, &server] {
            int sig = 0;
            sigwait(&signals_, &sig);
            if (!done_)
                std::fprintf(stderr, "moe-server: %s, stopping\n",
                             sig == SIGINT ? "interrupted" : "terminated");
            server.stop();
        });
    }
    // After listen() returned: wakes the watcher with a signal of our own and joins it.
    ~StopOnSignal() {
        if (!thread_.joinable()) return;
        done_ = true;
        pthread_kill(thread_.native_handle(), SIGTERM);
        thread_.join();
    }

  private:
    sigset_t signals_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

bool show_progress(float fraction) {
    if (fraction >= 1.0f) std::fprintf(stderr, "moe-server: model loaded\n");
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "moe-server: an OpenAI-compatible HTTP server (and web chat page) for a mixture-of-experts "
        "GGUF model"};
    std::string model_path, host = "127.0.0.1", api_key, template_name;
    int port = 8080;
    uint32_t parallel = 4, queue = 16, n_ctx = 2048;
    moeserver::RequestDefaults defaults;
    apps::DeviceFlags device;
    apps::PagingFlags paging;
    app.add_option("-m,--model", model_path, "GGUF model file (default: assets/moe-vk-demo.gguf)");
    app.add_option("--host", host,
                   "address to listen on (0.0.0.0 for every interface: mind --api-key)")
        ->capture_default_str();
    app.add_option("--port", port, "TCP port (0: any free one, printed at start)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app.add_option("--parallel", parallel,
                   "slots: requests generated at once, each with its own KV cache")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    app.add_option("--queue", queue,
                   "requests that may wait for a slot; past them the answer is 503")
        ->check(CLI::Range(0u, 4096u))
        ->capture_default_str();
    app.add_option("--api-key", api_key,
                   "require 'Authorization: Bearer KEY' on /v1 requests (default: "
                   "$MOEVK_SERVER_API_KEY, else none)");
    CLI::Option* ctx_opt =
        app.add_option("--ctx-size", n_ctx, "context of each slot in tokens (prompt and reply)")
            ->check(CLI::Range(16u, apps::kMaxContext))
            ->capture_default_str();
    app.add_option("-n,--max-tokens", defaults.max_tokens,
                   "reply length for requests that give no max_tokens")
        ->check(CLI::Range(1u, apps::kMaxContext))
        ->capture_default_str();
    app.add_option("--chat-template", template_name, "template family instead of the file's");
    apps::add_sampling_flags(app, defaults.sampling);
    apps::add_device_flags(app, device);
    apps::add_paging_flags(app, paging);
    CLI11_PARSE(app, argc, argv);
    defaults.fixed_seed = app.count("--seed") > 0;
    defaults.n_ctx = n_ctx;
    defaults.template_name = template_name;
    if (model_path.empty()) model_path = apps::default_model(argv[0]);
    if (api_key.empty())
        if (const char* env = std::getenv("MOEVK_SERVER_API_KEY")) api_key = env;

    StopOnSignal stop_on_signal;
    try {
        apps::ChatModel opened(model_path, template_name, device, paging, show_progress);
        Engine& engine = opened.engine;
        Model& model = opened.model;
        moevk_model_info info = model.info();
        Tokenizer tokenizer = model.tokenizer();
        std::fprintf(stderr, "moe-server: %s: %s\non %s\n", model_path.c_str(), info.description,
                     engine.device_info().name);
        if (*ctx_opt) apps::warn_past_training_context("moe-server", n_ctx, info);

        moevk_session_options so = moevk_session_options_default();
        so.n_ctx = n_ctx;
        so.sampling = defaults.sampling;
        moeserver::Metrics metrics;
        moeserver::Scheduler scheduler(model, so, template_name, parallel, queue, metrics);

        moeserver::ServerContext ctx{scheduler, metrics, tokenizer};
        ctx.defaults = defaults;
        ctx.model_id = std::filesystem::path(model_path).stem().string();
        ctx.created = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
        ctx.info = info;
        ctx.api_key = api_key;
        ctx.queue_limit = queue;
        ctx.loopback_only = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;

        httplib::Server server;
        // Each waiting or streaming request holds an HTTP thread: enough for every slot and
        // every queued request, and a few for /health, /metrics and the page.
        server.new_task_queue = [n = parallel + queue + 8] { return new httplib::ThreadPool(n); };
        moeserver::install_routes(server, ctx);
        int bound = port == 0 ? server.bind_to_any_port(host)
                              : (server.bind_to_port(host, port) ? port : -1);
        if (bound < 0)
            throw Exception(MOEVK_ERROR_INVALID_ARGUMENT,
                            "cannot listen on " + host + ":" + std::to_string(port));
        std::fprintf(
            stderr,
            "moe-server: listening on http://%s:%d (model %s, %u slots of %u tokens, queue %u%s)\n",
            host.c_str(), bound, ctx.model_id.c_str(), parallel, n_ctx, queue,
            api_key.empty() ? "" : ", API key required");
        stop_on_signal.watch(server);
        server.listen_after_bind();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "moe-server: error: %s\n", e.what());
        return 1;
    }
}
