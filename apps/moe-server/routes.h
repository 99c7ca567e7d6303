// The HTTP surface: which path does what, the API key check, the body limits, error replies in
// OpenAI's shape for everything that goes wrong (a 404, a 413 from httplib, an exception), and
// the per-request log line.
//
//   GET  /                      the web chat page (and /app.js, /style.css)
//   GET  /health                {"status": "ok", ...}
//   GET  /metrics               Prometheus text
//   GET  /v1/models[/ID]        the one model
//   POST /v1/chat/completions   chat, streaming or not
//   POST /v1/completions        a plain prompt, streaming or not
//   GET  /v1/internal/experts   tokens per expert per layer, for the web page's chart
//
// On a loopback address the Host header must be a local name (no DNS rebinding). With an API
// key every /v1 request needs "Authorization: Bearer KEY"; /, /health and
// /metrics answer without one (they show no conversation).
#pragma once

#include <httplib.h>

#include "server_context.h"

namespace moeserver {

// The largest request body: far above any chat that fits a context, far below what could hurt.
constexpr size_t kMaxBodyBytes = 1 << 20;

void install_routes(httplib::Server& server, ServerContext& ctx);

}  // namespace moeserver
