// What the HTTP handlers share: the scheduler, the counters, the model's tokenizer and name,
// and the request defaults and limits. Made once in main and read-only after.
#pragma once

#include <cstdint>
#include <moevk/moevk.hpp>
#include <string>

#include "metrics.h"
#include "request.h"
#include "scheduler.h"

namespace moeserver {

struct ServerContext {
    Scheduler& scheduler;
    Metrics& metrics;
    const moevk::Tokenizer& tokenizer;  // the model's: read-only, safe from any thread
    RequestDefaults defaults;
    std::string model_id;  // the file's name without .gguf: what /v1/models lists
    int64_t created = 0;   // when the model was loaded (Unix seconds)
    moevk_model_info info{};
    std::string api_key;  // "" when no key is needed
    uint32_t queue_limit = 0;
    bool loopback_only = true;  // listening on a loopback address: only local Host names pass
};

}  // namespace moeserver
