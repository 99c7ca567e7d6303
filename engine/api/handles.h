// What the C API's opaque handles hold. Each handle keeps what it was made from alive through a
// shared_ptr, so the C caller may destroy handles in any order: a model keeps its engine, a
// session its model.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "gpu/context.h"
#include "model/model_file.h"
#include "moevk/moevk.h"
#include "runtime/batch_step.h"
#include "runtime/device_model.h"
#include "runtime/generator.h"
#include "runtime/session.h"
#include "text/chat_template.h"
#include "text/detokenizer.h"
#include "text/harmony_reply.h"
#include "text/tokenizer.h"

struct moevk_engine {
    std::shared_ptr<moevk::gpu::Context> context;
    // Models and sessions of one engine are made one at a time: each measures the device
    // memory it took from the engine's arena (the VRAM budget's arithmetic), which another
    // thread's allocations would disturb.
    std::shared_ptr<std::mutex> creation_lock = std::make_shared<std::mutex>();
};

struct moevk_tokenizer {
    moevk::text::Tokenizer tokenizer;
    // The chat format recognised from tokenizer.chat_template, or why there is none.
    std::optional<moevk::text::ChatTemplate> chat_template;
    std::string template_error;
};

namespace moevk::api {

// The session defaults a model was loaded with.
struct ModelDefaults {
    std::optional<experts::VramBudget> vram_budget;
    experts::CachePolicy cache_policy = experts::CachePolicy::Lru;
    bool prefetch = true;
    runtime::KvFormat kv_format = runtime::KvFormat::F32;
};

struct LoadedModel {
    std::shared_ptr<gpu::Context> context;
    std::shared_ptr<std::mutex> creation_lock;  // the engine's
    model::ModelFile file;
    std::unique_ptr<runtime::DeviceModel> device;
    std::optional<moevk_tokenizer> tokenizer;  // none when the vocabulary cannot be read
    std::string vocab_error;
    ModelDefaults defaults;
};

// Reads the vocabulary and recognises the chat template of a GGUF file.
moevk_tokenizer make_tokenizer(const gguf::File& file);

}  // namespace moevk::api

struct moevk_model {
    std::shared_ptr<moevk::api::LoadedModel> model;
};

struct moevk_session {
    std::shared_ptr<moevk::api::LoadedModel> model;
    std::unique_ptr<moevk::runtime::Session> session;
    std::unique_ptr<moevk::runtime::Generator> generator;
};

struct moevk_detokenizer {
    moevk::text::Detokenizer detokenizer;
};

struct moevk_harmony {
    moevk::text::HarmonyReply reply;
};

struct moevk_batch {
    std::shared_ptr<moevk::api::LoadedModel> model;
    std::unique_ptr<moevk::runtime::BatchStep> step;
};
