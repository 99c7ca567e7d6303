// The expert slot pool on the device: slots sub-allocated from the arena, one expert table per
// layer pointing each resident expert at its slot, and uploads from the memory-mapped file
// through a staging ring on the transfer queue (the dedicated one where the device has it).
//
// Timelines: an upload into a slot waits on the compute timeline until the slot's last reader
// has finished, so no queued dispatch ever reads an expert that is being overwritten; the
// expert FFN that needs an upload waits on the transfer timeline value acquire() returns.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "experts/residency.h"
#include "experts/stats.h"
#include "gpu/commands.h"
#include "gpu/context.h"
#include "moe/weights.h"

namespace moevk::experts {

// One layer's routed experts where the file keeps them.
struct LayerExperts {
    moe::ExpertFormats formats;
    uint32_t d_model = 0;
    uint32_t d_ff = 0;
    std::vector<moe::ExpertView> experts;  // gate [ff][d], up [ff][d], down [d][ff] bytes
};

struct CacheOptions {
    CachePolicy policy = CachePolicy::Lru;
    double lfu_decay = 0.9;
    uint32_t staging_slots = 4;  // experts the staging ring holds
    // Called before each upload with (layer, expert); what it throws fails that upload (tests
    // inject errors here).
    std::function<void(uint32_t, uint32_t)> before_upload;
    // Copies one matrix of an expert from where LayerExperts points into `dst`; without it, a
    // memcpy from the view. Sessions paging a model file read it with gguf::File::read, so a
    // file truncated under them fails the upload instead of a SIGBUS from the mapping.
    std::function<void(std::span<const uint8_t> src, uint8_t* dst)> read;
};

class ExpertCache {
public:
    // Bytes of one slot (the largest expert of any layer, each matrix 256-byte aligned) and of
    // the expert tables, for planning before anything is allocated.
    static uint64_t slot_bytes(const std::vector<LayerExperts>& layers);
    static uint64_t table_bytes(const std::vector<LayerExperts>& layers);

    // With as many slots as experts, every expert is uploaded here and the tables never change.
    ExpertCache(gpu::Context& ctx, std::vector<LayerExperts> layers, uint32_t n_slots, CacheOptions options = {});
    ~ExpertCache();
    ExpertCache(const ExpertCache&) = delete;
    ExpertCache& operator=(const ExpertCache&) = delete;

    uint32_t n_layers() const { return static_cast<uint32_t>(layers_.size()); }
    uint32_t n_experts() const { return n_experts_; }
    uint32_t n_slots() const { return residency_.n_slots(); }
    bool all_resident() const { return all_resident_; }
    uint64_t slot_bytes() const { return slot_bytes_; }
    VkDeviceAddress table(uint32_t layer) const { return tables_.at(layer).address(); }
    const Residency& residency() const { return residency_; }
    const CacheOptions& options() const { return options_; }

    // Makes `experts` of `layer` resident together and pins them: hits are counted, misses
    // uploaded into slots the policy frees. Returns the transfer timeline value the expert FFN
    // must wait for (0: nothing to wait for). The experts must fit the slots (split_groups).
    uint64_t acquire(uint32_t layer, std::span<const uint32_t> experts);
    // Records the table entries of `experts` that no longer point at their slots; returns
    // whether it recorded any (a barrier must follow before the FFN reads them).
    bool record_table_updates(gpu::CommandBuffer& cb, uint32_t layer, std::span<const uint32_t> experts);
    // The compute submission that signals `compute_value` reads `experts`: unpins them.
    void release(uint32_t layer, std::span<const uint32_t> experts, uint64_t compute_value);
    // Starts uploads of guessed experts, best guess first, into slots whose last use has
    // completed (`settled`, a compute timeline value); stops when no such slot is left.
    void prefetch(uint32_t layer, std::span<const uint32_t> experts, uint64_t settled);
    // A forward step ended (for the policy).
    void end_step() { residency_.end_step(); }
    // After an error mid-step: waits for the queues, unpins everything and rewrites every table
    // entry on next use, so the next step starts from a consistent state.
    void recover();

    PagingStats& stats() { return stats_; }
    const PagingStats& stats() const { return stats_; }
    void reset_stats();

private:
    struct Layout {
        uint64_t in_bytes = 0, down_bytes = 0;            // gate and up each, down
        uint64_t gate = 0, up = 0, down = 0, bytes = 0;  // offsets in a slot, and the total
    };
    static Layout layout(const LayerExperts& layer);
    // Uploads (layer, expert) into slot s, evicting its expert; returns the transfer value.
    uint64_t upload(uint32_t layer, uint32_t expert, uint32_t s);
    void upload_all();
    void read(std::span<const uint8_t> src, uint8_t* dst) const;

    gpu::Context& ctx_;
    std::vector<LayerExperts> layers_;
    std::vector<Layout> layouts_;
    uint32_t n_experts_ = 0;
    uint64_t slot_bytes_ = 0;
    CacheOptions options_;
    Residency residency_;
    bool all_resident_ = false;
    std::vector<gpu::Buffer> slots_;
    std::vector<gpu::Buffer> tables_;            // per layer [E][3] device addresses
    std::vector<std::vector<uint32_t>> table_slot_;  // [layer][expert]: slot the device entry points at
    // Staging ring: one expert per entry, each with its command buffer and the transfer value
    // that last read it.
    gpu::Buffer staging_;
    std::vector<std::unique_ptr<gpu::CommandBuffer>> staging_commands_;
    std::vector<uint64_t> staging_value_;
    uint32_t next_staging_ = 0;
    PagingStats stats_;
};

}  // namespace moevk::experts
