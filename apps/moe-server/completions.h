// POST /v1/chat/completions and /v1/completions: parse and check the request, queue it for a
// slot, and write the reply as it comes: server-sent events with stream: true, one JSON object
// otherwise. Both are written through a chunked content provider, which polls the connection
// while it waits, so a client that leaves cancels its generation (and frees its slot, or its
// place in the queue) within one scheduler step.
#pragma once

#include <httplib.h>

#include "server_context.h"

namespace moeserver {

// Throws BadRequest for what the client got wrong (the routes turn it into an error reply).
void handle_completion(const httplib::Request& req, httplib::Response& res, ServerContext& ctx,
                       bool chat);

}  // namespace moeserver
