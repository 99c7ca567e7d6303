// The forward step when experts are paged. The step's command stream is the resident one cut
// at each layer's top-k:
//
//   segment:  [previous layer's FFN tail: combine, x += moe] attention -> norm -> router ->
//             top-k [-> permute] -> copy ids (and tiles) to the host
//             [-> the next layer's router and top-k on this input: the prefetch guess]
//   host:     wait; read ids; split the experts into groups that fit the slots; for each
//             group: acquire (pin, upload the misses), then a segment with the table rewrites
//             and the expert FFN over the group's rows, waiting on the transfer timeline
//
// The last group's segment stays open and goes on with the combine and the next layer, so a
// step with every expert hit costs one submit and one wait per layer. Uploads guessed for a
// layer start as soon as the segment holding the previous layer's FFN is submitted.
//
// The expert FFN runs the same kernels as the resident path over the same rows, each row
// computed independently of which other experts are present, and one combine sums over k in
// order at the end: the logits are the resident path's bit for bit, whatever the budget.
#include <algorithm>
#include <chrono>
#include <string>

#include "experts/groups.h"
#include "gpu/error.h"
#include "moe/stages.h"
#include "moe_config.h"
#include "runtime/session.h"

namespace moevk::runtime {
namespace {

constexpr uint32_t kSegments = 4;  // compute command buffers in flight at most

std::vector<experts::LayerExperts> expert_sources(const model::ModelFile& file) {
    const model::ModelConfig& c = file.config();
    std::vector<experts::LayerExperts> layers;
    for (const model::LayerWeights& l : file.weights().layers)
        layers.push_back({l.moe.formats, c.d_model, c.moe.d_ff, l.moe.experts});
    return layers;
}

// Readback layout, in 32-bit words: ids [B*K], guessed ids [B*K], meta, tiles.
struct ReadbackLayout {
    uint64_t ids, guess, meta, tiles, tiles_words, total;
    ReadbackLayout(uint32_t max_batch, uint32_t top_k, uint32_t n_experts) {
        uint64_t pairs = uint64_t(max_batch) * top_k;
        ids = 0;
        guess = pairs;
        meta = 2 * pairs;
        tiles = meta + MOE_META_WORDS;
        tiles_words = uint64_t(moe::max_gemm_tiles(static_cast<uint32_t>(pairs), n_experts)) * 3;
        total = tiles + tiles_words;
    }
};

// The distinct experts in `ids`, most tokens first, ties in order of first appearance.
std::vector<uint32_t> rank_guesses(const uint32_t* ids, size_t n, uint32_t n_experts) {
    std::vector<uint32_t> count(n_experts, 0), order;
    for (size_t i = 0; i < n; ++i) {
        uint32_t e = ids[i];
        if (e >= n_experts) continue;
        if (count[e]++ == 0) order.push_back(e);
    }
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return count[a] > count[b]; });
    return order;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void Session::init_paging() {
    const model::ModelConfig& c = model_.config();
    const uint32_t B = options_.max_batch, K = c.moe.top_k, E = c.moe.n_experts;
    if (options_.prefetch) {
        auto alloc = [&](uint64_t bytes, const char* what) {
            return ctx_.allocate(bytes, gpu::MemoryKind::Device, std::string("session ") + what);
        };
        guess_logits_ = alloc(uint64_t(B) * E * 4, "prefetch logits");
        guess_ids_ = alloc(uint64_t(B) * K * 4, "prefetch ids");
        guess_weights_ = alloc(uint64_t(B) * K * 4, "prefetch weights");
    }
    std::vector<experts::LayerExperts> layers = expert_sources(*model_.paged_file());
    experts::SlotDemand demand;
    demand.resident_bytes = model_.device_bytes();
    demand.session_bytes = ctx_.arena(gpu::MemoryKind::Device).bytes_in_use() - arena_at_start_ +
                           experts::ExpertCache::table_bytes(layers);
    demand.slot_bytes = experts::ExpertCache::slot_bytes(layers);
    demand.total_experts = c.n_layers * E;
    demand.min_slots = K;
    experts::VramBudget every{experts::VramBudget::Kind::Percent, 0, 100.0};
    plan_ = experts::plan_slots(options_.vram_budget.value_or(every), demand);

    experts::CacheOptions cache_options;
    cache_options.policy = options_.cache_policy;
    cache_options.lfu_decay = options_.lfu_decay;
    cache_options.before_upload = options_.before_upload;
    // pread() from the file, not the mapping: a file truncated while the session runs is then
    // an error naming it, not a SIGBUS.
    const gguf::File& file = model_.paged_file()->file();
    cache_options.read = [&file](std::span<const uint8_t> src, uint8_t* dst) { file.read(src, dst); };
    cache_ = std::make_unique<experts::ExpertCache>(ctx_, std::move(layers), plan_.slots, cache_options);
    if (cache_->all_resident()) return;

    ReadbackLayout rb(B, K, E);
    readback_ = ctx_.allocate(rb.total * 4, gpu::MemoryKind::Host, "session routing readback");
    group_tiles_ = ctx_.allocate(rb.tiles_words * 4, gpu::MemoryKind::Host, "session group tile lists");
    for (uint32_t i = 0; i < kSegments; ++i) {
        segments_.push_back(std::make_unique<gpu::CommandBuffer>(ctx_, ctx_.compute_queue()));
        segment_values_.push_back(0);
    }
}

void Session::step_paged(uint32_t T, bool all_logits) {
    const model::ModelConfig& c = model_.config();
    const uint32_t K = c.moe.top_k, E = c.moe.n_experts, n_layers = c.n_layers;
    const bool gemm = !moe_.uses_matvec(T);
    const ReadbackLayout rb(options_.max_batch, K, E);
    const uint32_t* readback = static_cast<const uint32_t*>(readback_.mapped());
    experts::ExpertCache& cache = *cache_;
    experts::PagingStats& stats = cache.stats();
    gpu::Queue& compute = ctx_.compute_queue();
    gpu::Queue& transfer = ctx_.transfer_queue();

    // The segment being recorded, what it must wait for and which experts it reads.
    struct Open {
        gpu::CommandBuffer* cb = nullptr;
        uint32_t index = 0;
        uint64_t transfer = 0;
        uint32_t layer = 0;
        std::vector<uint32_t> experts;
    } open;
    uint64_t last_compute = 0;
    auto begin = [&]() -> gpu::CommandBuffer& {
        uint32_t i = next_segment_;
        next_segment_ = (next_segment_ + 1) % kSegments;
        ctx_.wait(compute, segment_values_[i]);
        segments_[i]->begin();
        open = Open{segments_[i].get(), i, 0, 0, {}};
        return *open.cb;
    };
    // Each segment waits for the previous one (a group's rows must all be written before the
    // combine) and for the uploads of the experts it reads.
    auto submit = [&]() -> uint64_t {
        open.cb->end();
        std::vector<std::pair<const gpu::Queue*, uint64_t>> waits;
        if (last_compute) waits.emplace_back(&compute, last_compute);
        bool uploading = open.transfer > ctx_.completed(transfer);
        if (uploading) waits.emplace_back(&transfer, open.transfer);
        uint64_t value = ctx_.submit(compute, open.cb->handle(), waits);
        segment_values_[open.index] = value;
        last_compute = value;
        cache.release(open.layer, open.experts, value);
        if (uploading) {
            // The compute queue is idle until the uploads land: that is the time the GPU waits.
            auto t0 = std::chrono::steady_clock::now();
            ctx_.wait(transfer, open.transfer);
            stats.layers[open.layer].wait_seconds += seconds_since(t0);
        }
        open.experts.clear();
        open.transfer = 0;
        return value;
    };

    gpu::CommandBuffer* cb = &begin();
    record_input(*cb, T);
    std::vector<uint32_t> guessed;  // this layer's experts as the previous layer guessed them
    for (uint32_t L = 0; L < n_layers; ++L) {
        const moe::DeviceMoeWeights& w = *model_.layers()[L].moe;
        const moe::MoeWorkspace& ws = moe_.workspace();
        record_attention_block(*cb, L, T);
        moe_.record_routing(*cb, w, act_.h.address(), T);
        cb->copy(ws.ids, 0, readback_, rb.ids * 4, uint64_t(T) * K * 4);
        if (gemm) {
            cb->copy(ws.meta, 0, readback_, rb.meta * 4, MOE_META_WORDS * 4);
            cb->copy(ws.tiles, 0, readback_, rb.tiles * 4, rb.tiles_words * 4);
        }
        const bool guess = options_.prefetch && L + 1 < n_layers;
        if (guess) {
            const moe::DeviceMoeWeights& next = *model_.layers()[L + 1].moe;
            moe::record_router(*cb, ctx_, act_.h.address(), next.router(), guess_logits_.address(), T, c.d_model, E,
                               next.router_bias());
            cb->barrier();
            moe::record_topk(*cb, ctx_, guess_logits_.address(), next.selection_bias(), guess_ids_.address(),
                             guess_weights_.address(), T, next.config());
            cb->barrier();
            cb->copy(guess_ids_, 0, readback_, rb.guess * 4, uint64_t(T) * K * 4);
        }
        uint64_t routed = submit();
        // Guessed uploads for this layer overlap the previous layer's FFN, which runs now; they
        // take only slots that no queued work reads.
        if (!guessed.empty()) cache.prefetch(L, guessed, ctx_.completed(compute));
        ctx_.wait(compute, routed);

        experts::LayerStats& st = stats.layers[L];
        const uint32_t* ids = readback + rb.ids;
        std::vector<uint32_t> demand;
        std::vector<bool> seen(E, false);
        for (uint32_t p = 0; p < T * K; ++p) {
            if (ids[p] >= E)
                throw Error(ErrorCode::InvalidArgument, "paging: layer " + std::to_string(L) + " selected expert " +
                                                            std::to_string(ids[p]) + " of " + std::to_string(E));
            ++st.expert_tokens[ids[p]];
            if (!gemm && !seen[ids[p]]) {
                seen[ids[p]] = true;
                demand.push_back(ids[p]);
            }
        }
        std::vector<uint32_t> tiles;
        if (gemm) {
            uint32_t n_tiles = readback[rb.meta + MOE_META_GATE_UP_ARGS + 1];
            if (uint64_t(n_tiles) * 3 > rb.tiles_words)
                throw Error(ErrorCode::InvalidArgument, "paging: layer " + std::to_string(L) + " has " +
                                                            std::to_string(n_tiles) + " GEMM tiles, more than fit");
            tiles.assign(readback + rb.tiles, readback + rb.tiles + uint64_t(n_tiles) * 3);
            // Tiles come in expert order: the distinct experts that kept rows.
            for (uint32_t t = 0; t < n_tiles; ++t)
                if (demand.empty() || demand.back() != tiles[t * 3]) demand.push_back(tiles[t * 3]);
        }
        guessed = guess ? rank_guesses(readback + rb.guess, size_t(T) * K, E) : std::vector<uint32_t>{};

        std::vector<std::vector<uint32_t>> groups = experts::split_groups(cache.residency(), L, demand);
        if (!gemm && groups.size() > 1)
            throw Error(ErrorCode::InvalidArgument, "paging: " + std::to_string(demand.size()) +
                                                        " experts on the matvec path exceed the " +
                                                        std::to_string(cache.n_slots()) + " slots");
        uint32_t tiles_done = 0;
        for (size_t g = 0; g < groups.size(); ++g) {
            uint64_t ready = cache.acquire(L, groups[g]);
            cb = &begin();
            open.transfer = ready;
            open.layer = L;
            open.experts = groups[g];
            if (cache.record_table_updates(*cb, L, groups[g])) cb->barrier();
            if (gemm) {
                // The group's tiles, in the permutation's order, each row computed as it would be
                // with every expert present.
                std::vector<bool> in_group(E, false);
                for (uint32_t e : groups[g]) in_group[e] = true;
                uint32_t* dst = static_cast<uint32_t*>(group_tiles_.mapped()) + uint64_t(tiles_done) * 3;
                uint32_t count = 0;
                for (size_t t = 0; t * 3 < tiles.size(); ++t)
                    if (in_group[tiles[t * 3]]) {
                        std::copy_n(tiles.begin() + t * 3, 3, dst + uint64_t(count) * 3);
                        ++count;
                    }
                moe_.record_experts_tiles(*cb, w, cache.table(L), act_.h.address(), T,
                                          group_tiles_.address() + uint64_t(tiles_done) * 12, count, g == 0);
                tiles_done += count;
            } else {
                moe_.record_experts_matvec(*cb, w, cache.table(L), act_.h.address(), T);
            }
            ++st.groups;
            if (g + 1 < groups.size()) submit();
        }
        // The last group's segment goes on: combine, the residual, the next layer to its top-k.
        cb->barrier();
        moe_.record_output(*cb, w, act_.h.address(), act_.o.address(), T);
        record_moe_tail(*cb, L, T);
    }
    record_logits(*cb, T, all_logits);
    ctx_.wait(compute, submit());
    cache.end_step();
    ++stats.steps;
}

}  // namespace moevk::runtime
