#include "experts/expert_cache.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "gpu/error.h"
#include "gpu/memory.h"

namespace moevk::experts {
namespace {

constexpr uint64_t kAlign = gpu::Arena::kAlignment;

uint64_t align_up(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

uint32_t check_layers(const std::vector<LayerExperts>& layers) {
    if (layers.empty()) throw Error(ErrorCode::InvalidArgument, "expert cache: no layers");
    uint32_t e = static_cast<uint32_t>(layers[0].experts.size());
    for (size_t l = 0; l < layers.size(); ++l)
        if (layers[l].experts.size() != e || e == 0)
            throw Error(ErrorCode::InvalidArgument, "expert cache: layer " + std::to_string(l) + " has " +
                                                        std::to_string(layers[l].experts.size()) +
                                                        " experts, layer 0 has " + std::to_string(e));
    return e;
}

}  // namespace

ExpertCache::Layout ExpertCache::layout(const LayerExperts& l) {
    uint64_t in = uint64_t(l.d_ff) * quant::row_bytes(l.formats.gate_up, l.d_model);
    uint64_t down = uint64_t(l.d_model) * quant::row_bytes(l.formats.down, l.d_ff);
    Layout a;
    a.in_bytes = in;
    a.down_bytes = down;
    a.gate = 0;
    a.up = align_up(in);
    a.down = a.up + align_up(in);
    a.bytes = a.down + align_up(down);
    return a;
}

uint64_t ExpertCache::slot_bytes(const std::vector<LayerExperts>& layers) {
    uint64_t most = 0;
    for (const LayerExperts& l : layers) most = std::max(most, layout(l).bytes);
    return most;
}

uint64_t ExpertCache::table_bytes(const std::vector<LayerExperts>& layers) {
    uint64_t total = 0;
    for (const LayerExperts& l : layers) total += align_up(l.experts.size() * 3 * sizeof(VkDeviceAddress));
    return total;
}

ExpertCache::ExpertCache(gpu::Context& ctx, std::vector<LayerExperts> layers, uint32_t n_slots, CacheOptions options)
    : ctx_(ctx),
      layers_(std::move(layers)),
      n_experts_(check_layers(layers_)),
      slot_bytes_(slot_bytes(layers_)),
      options_(std::move(options)),
      residency_(static_cast<uint32_t>(layers_.size()), n_experts_, n_slots, options_.policy, options_.lfu_decay) {
    for (uint32_t l = 0; l < layers_.size(); ++l) {
        const LayerExperts& layer = layers_[l];
        Layout a = layout(layer);
        layouts_.push_back(a);
        for (uint32_t e = 0; e < n_experts_; ++e) {
            const moe::ExpertView& v = layer.experts[e];
            if (v.gate.size() != a.in_bytes || v.up.size() != a.in_bytes || v.down.size() != a.down_bytes)
                throw Error(ErrorCode::InvalidArgument,
                            "expert cache: layer " + std::to_string(l) + " expert " + std::to_string(e) +
                                " has matrices of " + std::to_string(v.gate.size()) + ", " +
                                std::to_string(v.up.size()) + " and " + std::to_string(v.down.size()) +
                                " bytes; its formats and shape give " + std::to_string(a.in_bytes) + ", " +
                                std::to_string(a.in_bytes) + " and " + std::to_string(a.down_bytes));
        }
    }
    if (options_.staging_slots == 0) throw Error(ErrorCode::InvalidArgument, "expert cache: 0 staging slots");
    all_resident_ = n_slots >= n_layers() * n_experts_;
    stats_.layers.resize(n_layers());
    reset_stats();

    table_slot_.assign(n_layers(), std::vector<uint32_t>(n_experts_, kNoSlot));
    for (uint32_t l = 0; l < n_layers(); ++l) {
        tables_.push_back(ctx.allocate(uint64_t(n_experts_) * 3 * sizeof(VkDeviceAddress), gpu::MemoryKind::Device,
                                       "expert table of layer " + std::to_string(l)));
        gpu::fill(ctx, tables_.back(), 0);
    }
    for (uint32_t s = 0; s < residency_.n_slots(); ++s)
        slots_.push_back(ctx.allocate(slot_bytes_, gpu::MemoryKind::Device, "expert slot " + std::to_string(s)));
    if (all_resident_) {
        upload_all();
        return;
    }
    staging_ = ctx.allocate(uint64_t(options_.staging_slots) * slot_bytes_, gpu::MemoryKind::Host,
                            "expert staging ring");
    for (uint32_t i = 0; i < options_.staging_slots; ++i) {
        staging_commands_.push_back(std::make_unique<gpu::CommandBuffer>(ctx, ctx.transfer_queue()));
        staging_value_.push_back(0);
    }
}

ExpertCache::~ExpertCache() {
    // Slots and staging must outlive every submission that reads them.
    try {
        ctx_.wait_idle();
    } catch (...) {
    }
}

void ExpertCache::read(std::span<const uint8_t> src, uint8_t* dst) const {
    if (options_.read)
        options_.read(src, dst);
    else
        std::memcpy(dst, src.data(), src.size());
}

void ExpertCache::upload_all() {
    std::vector<uint8_t> bytes;  // one matrix at a time, where options_.read reads the file
    for (uint32_t l = 0; l < n_layers(); ++l) {
        const Layout& a = layouts_[l];
        std::vector<VkDeviceAddress> table;
        for (uint32_t e = 0; e < n_experts_; ++e) {
            uint32_t s = l * n_experts_ + e;
            const moe::ExpertView& v = layers_[l].experts[e];
            for (auto [src, offset] : {std::pair{v.gate, a.gate}, std::pair{v.up, a.up}, std::pair{v.down, a.down}}) {
                if (options_.read) {
                    bytes.resize(src.size());
                    read(src, bytes.data());
                    gpu::upload(ctx_, slots_[s], bytes.data(), bytes.size(), offset);
                } else {
                    gpu::upload(ctx_, slots_[s], src.data(), src.size(), offset);
                }
            }
            residency_.assign(s, l, e);
            table_slot_[l][e] = s;
            for (uint64_t offset : {a.gate, a.up, a.down}) table.push_back(slots_[s].address() + offset);
        }
        gpu::upload(ctx_, tables_[l], table);
    }
}

void ExpertCache::reset_stats() {
    stats_.steps = 0;
    // Prefetches counted before the reset must not count as used after it.
    for (uint32_t s = 0; s < residency_.n_slots(); ++s) residency_.set_prefetched(s, false);
    for (LayerStats& l : stats_.layers) {
        l = LayerStats{};
        l.expert_tokens.assign(n_experts_, 0);
    }
}

uint64_t ExpertCache::upload(uint32_t layer, uint32_t expert, uint32_t s) {
    if (options_.before_upload) options_.before_upload(layer, expert);
    const Slot before = residency_.slot(s);
    residency_.assign(s, layer, expert);
    try {
        const Layout& a = layouts_[layer];
        const moe::ExpertView& v = layers_[layer].experts[expert];
        uint32_t r = next_staging_;
        next_staging_ = (next_staging_ + 1) % options_.staging_slots;
        // The ring entry is free once the copy that last read it has run.
        ctx_.wait(ctx_.transfer_queue(), staging_value_[r]);
        uint8_t* dst = static_cast<uint8_t*>(staging_.mapped()) + uint64_t(r) * slot_bytes_;
        read(v.gate, dst + a.gate);
        read(v.up, dst + a.up);
        read(v.down, dst + a.down);
        gpu::CommandBuffer& cb = *staging_commands_[r];
        cb.begin();
        cb.copy(staging_, uint64_t(r) * slot_bytes_, slots_[s], 0, a.bytes);
        cb.end();
        // Overwrite the slot only after its last reader and its previous upload.
        std::vector<std::pair<const gpu::Queue*, uint64_t>> waits;
        if (before.last_use) waits.emplace_back(&ctx_.compute_queue(), before.last_use);
        if (before.ready) waits.emplace_back(&ctx_.transfer_queue(), before.ready);
        uint64_t value = ctx_.submit(ctx_.transfer_queue(), cb.handle(), waits);
        staging_value_[r] = value;
        residency_.set_ready(s, value);
        LayerStats& st = stats_.layers[layer];
        ++st.uploads;
        st.bytes_uploaded += v.gate.size() + v.up.size() + v.down.size();
        return value;
    } catch (...) {
        residency_.clear(s);
        throw;
    }
}

uint64_t ExpertCache::acquire(uint32_t layer, std::span<const uint32_t> experts) {
    if (layer >= n_layers()) throw Error(ErrorCode::InvalidArgument, "expert cache: no layer " + std::to_string(layer));
    for (uint32_t e : experts)
        if (e >= n_experts_)
            throw Error(ErrorCode::InvalidArgument, "expert cache: expert " + std::to_string(e) + " of " +
                                                        std::to_string(n_experts_));
    // Pin the hits first so that no miss evicts them.
    for (uint32_t e : experts)
        if (uint32_t s = residency_.slot_of(layer, e); s != kNoSlot) residency_.pin(s);
    LayerStats& st = stats_.layers[layer];
    uint64_t wait = 0;
    for (uint32_t e : experts) {
        uint32_t s = residency_.slot_of(layer, e);
        if (s != kNoSlot) {
            ++st.hits;
            if (residency_.slot(s).prefetched) {
                ++st.prefetch_used;
                residency_.set_prefetched(s, false);
            }
        } else {
            s = residency_.pick_slot();
            if (s == kNoSlot)
                throw Error(ErrorCode::InvalidArgument, "expert cache: layer " + std::to_string(layer) + " needs " +
                                                            std::to_string(experts.size()) + " experts at once, " +
                                                            "more than the " + std::to_string(n_slots()) + " slots");
            ++st.misses;
            upload(layer, e, s);
            residency_.pin(s);
        }
        wait = std::max(wait, residency_.slot(s).ready);
        residency_.access(layer, e);
    }
    return wait;
}

bool ExpertCache::record_table_updates(gpu::CommandBuffer& cb, uint32_t layer, std::span<const uint32_t> experts) {
    const Layout& a = layouts_.at(layer);
    bool any = false;
    for (uint32_t e : experts) {
        uint32_t s = residency_.slot_of(layer, e);
        if (s == kNoSlot)
            throw Error(ErrorCode::InvalidArgument, "expert cache: layer " + std::to_string(layer) + " expert " +
                                                        std::to_string(e) + " has no slot to point the table at");
        if (table_slot_[layer][e] == s) continue;
        VkDeviceAddress entry[3] = {slots_[s].address() + a.gate, slots_[s].address() + a.up,
                                    slots_[s].address() + a.down};
        cb.update(tables_[layer], uint64_t(e) * sizeof(entry), entry, sizeof(entry));
        table_slot_[layer][e] = s;
        any = true;
    }
    return any;
}

void ExpertCache::release(uint32_t layer, std::span<const uint32_t> experts, uint64_t compute_value) {
    for (uint32_t e : experts) {
        uint32_t s = residency_.slot_of(layer, e);
        if (s == kNoSlot) continue;
        residency_.unpin(s);
        residency_.set_last_use(s, compute_value);
    }
}

void ExpertCache::prefetch(uint32_t layer, std::span<const uint32_t> experts, uint64_t settled) {
    if (all_resident_) return;
    // Each prefetched expert stays pinned until the round ends, so that a later guess cannot
    // take its slot.
    std::vector<uint32_t> taken;
    try {
        for (uint32_t e : experts) {
            if (residency_.slot_of(layer, e) != kNoSlot) continue;
            uint32_t s = residency_.pick_slot(settled);
            if (s == kNoSlot) break;
            upload(layer, e, s);
            residency_.set_prefetched(s, true);
            residency_.pin(s);
            taken.push_back(s);
            ++stats_.layers[layer].prefetched;
        }
    } catch (...) {
        for (uint32_t s : taken) residency_.unpin(s);
        throw;
    }
    for (uint32_t s : taken) residency_.unpin(s);
}

void ExpertCache::recover() {
    ctx_.wait_idle();
    residency_.unpin_all();
    // A table update may have been recorded into a command buffer that was never submitted.
    for (auto& layer : table_slot_) std::fill(layer.begin(), layer.end(), kNoSlot);
}

}  // namespace moevk::experts
