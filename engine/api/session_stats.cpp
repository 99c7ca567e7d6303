// What a session can tell about itself: its cache and slot plan, speeds, expert routing and
// paging figures.
#include "api/guard.h"
#include "api/handles.h"
#include "experts/stats.h"

using namespace moevk;
using namespace moevk::api;

namespace {

const moevk_session& need_session(const moevk_session* s, const char* fn) { return need(s, fn, "session"); }

}  // namespace

extern "C" {

moevk_status moevk_session_get_info(const moevk_session* session, moevk_session_info* info) {
    return guard([&] {
        const char* fn = "moevk_session_get_info";
        const moevk_session& s = need_session(session, fn);
        const model::ModelConfig& c = s.model->file.config();
        moevk_session_info i{sizeof(moevk_session_info)};
        i.n_ctx = s.session->n_ctx();
        i.n_vocab = c.n_vocab;
        i.position = static_cast<uint32_t>(s.generator->history().size());
        i.pending = static_cast<uint32_t>(s.generator->pending().size());
        i.paged = s.session->paged();
        i.total_experts = c.n_layers * c.moe.n_experts;
        if (const experts::SlotPlan* plan = s.session->slot_plan()) {
            i.expert_slots = plan->slots;
            i.device_bytes = plan->device_bytes;
            copy_name(i.plan, experts::describe(*plan));
        } else {
            i.expert_slots = i.total_experts;
            i.device_bytes = s.model->device->device_bytes() + s.session->device_bytes();
        }
        write_struct(info, i, fn, "info");
    });
}

moevk_status moevk_session_get_stats(const moevk_session* session, moevk_session_stats* stats) {
    return guard([&] {
        const char* fn = "moevk_session_get_stats";
        const moevk_session& s = need_session(session, fn);
        const runtime::GeneratorStats& g = s.generator->stats();
        experts::LayerStats paging = s.session->paging_stats().total();
        moevk_session_stats out{sizeof(moevk_session_stats)};
        out.prompt_tokens = g.prompt_tokens;
        out.prompt_seconds = g.prompt_seconds;
        out.generated_tokens = g.generated_tokens;
        out.generate_seconds = g.generate_seconds;
        out.expert_hits = paging.hits;
        out.expert_misses = paging.misses;
        out.prefetched = paging.prefetched;
        out.prefetch_used = paging.prefetch_used;
        out.bytes_uploaded = paging.bytes_uploaded;
        out.upload_wait_seconds = paging.wait_seconds;
        write_struct(stats, out, fn, "stats");
    });
}

moevk_status moevk_session_get_layer_stats(const moevk_session* session, uint32_t layer, moevk_layer_stats* stats) {
    return guard([&] {
        const char* fn = "moevk_session_get_layer_stats";
        const moevk_session& s = need_session(session, fn);
        uint32_t n_layers = s.model->file.config().n_layers;
        if (layer >= n_layers)
            throw Error(ErrorCode::InvalidArgument, std::string(fn) + ": layer " + std::to_string(layer) +
                                                        " of a model with " + std::to_string(n_layers));
        moevk_layer_stats out{sizeof(moevk_layer_stats)};
        const experts::PagingStats& p = s.session->paging_stats();
        if (layer < p.layers.size()) {
            const experts::LayerStats& l = p.layers[layer];
            out.hits = l.hits;
            out.misses = l.misses;
            out.prefetched = l.prefetched;
            out.prefetch_used = l.prefetch_used;
            out.uploads = l.uploads;
            out.bytes_uploaded = l.bytes_uploaded;
            out.wait_seconds = l.wait_seconds;
        }
        write_struct(stats, out, fn, "stats");
    });
}

moevk_status moevk_session_get_expert_counts(const moevk_session* session, uint64_t* counts, size_t capacity) {
    return guard([&] {
        const char* fn = "moevk_session_get_expert_counts";
        const moevk_session& s = need_session(session, fn);
        const model::ModelConfig& c = s.model->file.config();
        const size_t needed = size_t(c.n_layers) * c.moe.n_experts;
        require_room(needed, capacity, fn, "counts");
        need(counts, fn, "counts");
        std::fill(counts, counts + needed, 0);
        const std::vector<uint64_t>& recorded = s.generator->stats().expert_tokens;
        if (!recorded.empty()) {
            std::copy(recorded.begin(), recorded.begin() + std::min(recorded.size(), needed), counts);
            return;
        }
        // Without record_experts the expert cache counts what it paged.
        const experts::PagingStats& p = s.session->paging_stats();
        for (size_t l = 0; l < p.layers.size() && l < c.n_layers; ++l)
            for (size_t e = 0; e < p.layers[l].expert_tokens.size() && e < c.moe.n_experts; ++e)
                counts[l * c.moe.n_experts + e] = p.layers[l].expert_tokens[e];
    });
}

moevk_status moevk_session_get_last_experts(const moevk_session* session, uint32_t* ids, size_t capacity,
                                            uint32_t* tokens) {
    return guard([&] {
        const char* fn = "moevk_session_get_last_experts";
        const moevk_session& s = need_session(session, fn);
        uint32_t& T = need(tokens, fn, "tokens");
        if (!s.session->options().record_experts)
            throw Error(ErrorCode::InvalidArgument, std::string(fn) + ": the session was created with record_experts 0");
        const auto& selected = s.session->selected_experts();
        const uint32_t K = s.model->file.config().moe.top_k;
        T = selected.empty() ? 0 : static_cast<uint32_t>(selected[0].size() / K);
        size_t needed = 0;
        for (const auto& layer : selected) needed += layer.size();
        require_room(needed, capacity, fn, "ids");
        if (needed) need(ids, fn, "ids");
        for (const auto& layer : selected) ids = std::copy(layer.begin(), layer.end(), ids);
    });
}

moevk_status moevk_session_paging_report(const moevk_session* session, char* text, size_t capacity, size_t* length) {
    return guard([&] {
        const char* fn = "moevk_session_paging_report";
        const moevk_session& s = need_session(session, fn);
        std::string report = s.session->slot_plan() ? experts::stats_table(s.session->paging_stats()) : std::string();
        write_text(report, text, capacity, length, fn);
    });
}

moevk_status moevk_session_reset_stats(moevk_session* session) {
    return guard([&] {
        const char* fn = "moevk_session_reset_stats";
        moevk_session& s = need(session, fn, "session");
        s.generator->reset_stats();
    });
}

}  // extern "C"
