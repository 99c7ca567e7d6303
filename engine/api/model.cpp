// Loading a model onto an engine's device, and what the caller may know about it.
#include <filesystem>

#include "api/guard.h"
#include "api/handles.h"
#include "experts/budget.h"
#include "experts/policy.h"

using namespace moevk;
using namespace moevk::api;

namespace moevk::api {

moevk_tokenizer make_tokenizer(const gguf::File& file) {
    moevk_tokenizer t{text::Tokenizer::from_file(file), std::nullopt, {}};
    std::optional<std::string> source = file.get_string("tokenizer.chat_template");
    if (!source) {
        t.template_error = file.path() + " has no chat template (tokenizer.chat_template)";
        return t;
    }
    try {
        t.chat_template = text::ChatTemplate::detect(*source);
    } catch (const Error& e) {
        t.template_error = e.what();
    }
    return t;
}

}  // namespace moevk::api

namespace {

ModelDefaults defaults_from(const moevk_model_options& o) {
    ModelDefaults d;
    if (o.vram_budget && *o.vram_budget) d.vram_budget = experts::parse_vram_budget(o.vram_budget);
    if (o.cache_policy != MOEVK_CACHE_LRU && o.cache_policy != MOEVK_CACHE_LFU)
        throw Error(ErrorCode::InvalidArgument,
                    "moevk_model_load: cache_policy " + std::to_string(int(o.cache_policy)) + " (LRU 0 or LFU 1)");
    d.cache_policy = o.cache_policy == MOEVK_CACHE_LFU ? experts::CachePolicy::Lfu : experts::CachePolicy::Lru;
    d.prefetch = o.prefetch != 0;
    if (o.kv_format != MOEVK_KV_F32 && o.kv_format != MOEVK_KV_F16)
        throw Error(ErrorCode::InvalidArgument,
                    "moevk_model_load: kv_format " + std::to_string(int(o.kv_format)) + " (F32 0 or F16 1)");
    d.kv_format = o.kv_format == MOEVK_KV_F16 ? runtime::KvFormat::F16 : runtime::KvFormat::F32;
    return d;
}

// A callback that says stop cancels the load by unwinding it.
void report_progress(const moevk_model_options& o, const std::string& path, float fraction) {
    if (o.progress && !o.progress(o.progress_user, fraction))
        throw Error(ErrorCode::Cancelled, "loading " + path + " was cancelled by the progress callback");
}

}  // namespace

extern "C" {

moevk_model_options moevk_model_options_default(void) {
    moevk_model_options o{sizeof(moevk_model_options)};
    o.cache_policy = MOEVK_CACHE_LRU;
    o.prefetch = 1;
    o.kv_format = MOEVK_KV_F32;
    return o;
}

moevk_status moevk_model_load(moevk_engine* engine, const char* path, const moevk_model_options* options,
                              moevk_model** model) {
    return guard([&] {
        moevk_model*& out = need(model, "moevk_model_load", "model");
        out = nullptr;
        moevk_engine& e = need(engine, "moevk_model_load", "engine");
        std::shared_ptr<gpu::Context> context = e.context;
        std::string file = need_text(path, "moevk_model_load", "path");
        moevk_model_options o = read_struct(options, moevk_model_options_default(), "moevk_model_load", "options");
        ModelDefaults defaults = defaults_from(o);
        // A FIFO or a device would block or read forever: only regular files are models.
        std::error_code ec;
        if (!std::filesystem::exists(file, ec))
            throw Error(ErrorCode::BadFile, "no model file at " + file);
        if (!std::filesystem::is_regular_file(file, ec))
            throw Error(ErrorCode::BadFile, file + " is not a regular file");

        report_progress(o, file, 0.0f);
        model::ModelFile opened = model::ModelFile::open(file);
        // A file without a readable vocabulary still runs token ids (moe-bench writes such files).
        std::optional<moevk_tokenizer> tokenizer;
        std::string vocab_error;
        try {
            tokenizer.emplace(make_tokenizer(opened.file()));
        } catch (const Error& e) {
            vocab_error = e.what();
        }
        auto loaded = std::make_shared<LoadedModel>(LoadedModel{context, e.creation_lock, std::move(opened), nullptr,
                                                                std::move(tokenizer), vocab_error, defaults});
        runtime::DeviceModelOptions device_options{.page_experts = defaults.vram_budget.has_value()};
        std::lock_guard<std::mutex> guard(*e.creation_lock);
        loaded->device = std::make_unique<runtime::DeviceModel>(
            *context, loaded->file, device_options,
            [&](uint32_t done, uint32_t total) { report_progress(o, file, total ? float(done) / float(total) : 1.0f); });
        out = new moevk_model{std::move(loaded)};
    });
}

void moevk_model_destroy(moevk_model* model) { delete model; }

moevk_status moevk_model_get_info(const moevk_model* model, moevk_model_info* info) {
    return guard([&] {
        const LoadedModel& m = *need(model, "moevk_model_get_info", "model").model;
        const model::ModelConfig& c = m.file.config();
        moevk_model_info i{sizeof(moevk_model_info)};
        copy_name(i.architecture, c.architecture);
        copy_name(i.name, m.file.file().get_string("general.name").value_or(""));
        copy_name(i.description, model::describe(c));
        copy_name(i.chat_template,
                  m.tokenizer && m.tokenizer->chat_template ? m.tokenizer->chat_template->name() : "");
        copy_name(i.vocab_error, m.vocab_error);
        i.n_layers = c.n_layers;
        i.n_experts = c.moe.n_experts;
        i.top_k = c.moe.top_k;
        i.n_shared_experts = c.moe.d_ff_shared ? 1 : 0;
        i.d_model = c.d_model;
        i.d_ff = c.moe.d_ff;
        i.n_heads = c.n_heads;
        i.n_kv_heads = c.n_kv_heads;
        i.n_vocab = c.n_vocab;
        i.n_ctx_train = c.n_ctx_train;
        if (!m.file.weights().layers.empty())
            copy_name(i.expert_format, quant::format_name(m.file.weights().layers[0].moe.formats.gate_up));
        i.file_bytes = m.file.file().bytes().size();
        i.device_bytes = m.device->device_bytes();
        i.experts_paged = m.device->experts_paged();
        write_struct(info, i, "moevk_model_get_info", "info");
    });
}

const moevk_tokenizer* moevk_model_get_tokenizer(const moevk_model* model) {
    return model && model->model->tokenizer ? &*model->model->tokenizer : nullptr;
}

}  // extern "C"
