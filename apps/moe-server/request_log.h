// One line per request on stderr: who, what, the status, how long, and for a generation its
// tokens and how it ended. The HTTP thread that serves a request also writes its reply (the
// streaming provider runs inside it), so the figures travel in thread-local storage.
#pragma once

#include <httplib.h>

#include "job.h"

namespace moeserver::request_log {

// At the start of each request (the pre-routing handler).
void begin();
// A generation's figures, from the completion handlers.
void note(const Outcome& outcome);
// Writes the line (the server's logger, after the reply).
void write(const httplib::Request& req, const httplib::Response& res);

}  // namespace moeserver::request_log
