// What paging did, per layer: counted by the expert cache, read through Session::paging_stats().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moevk::experts {

struct LayerStats {
    uint64_t hits = 0;           // demanded experts found in a slot (prefetched ones included)
    uint64_t misses = 0;         // demanded experts uploaded on demand
    uint64_t prefetched = 0;     // uploads started by prefetch
    uint64_t prefetch_used = 0;  // of those, experts demanded before they were evicted
    uint64_t uploads = 0;        // uploads of either kind
    uint64_t bytes_uploaded = 0;
    uint64_t groups = 0;         // expert FFN passes: one per layer and step, more when split
    double wait_seconds = 0;     // time the compute queue waited for this layer's uploads
    std::vector<uint64_t> expert_tokens;  // [E]: (token, k) pairs routed to each expert

    double hit_rate() const { return hits + misses ? double(hits) / double(hits + misses) : 1.0; }
    double prefetch_accuracy() const { return prefetched ? double(prefetch_used) / double(prefetched) : 0.0; }
};

struct PagingStats {
    std::vector<LayerStats> layers;
    uint64_t steps = 0;  // forward steps counted

    // The layers summed (expert_tokens summed per expert index).
    LayerStats total() const {
        LayerStats t;
        for (const LayerStats& l : layers) {
            t.hits += l.hits;
            t.misses += l.misses;
            t.prefetched += l.prefetched;
            t.prefetch_used += l.prefetch_used;
            t.uploads += l.uploads;
            t.bytes_uploaded += l.bytes_uploaded;
            t.groups += l.groups;
            t.wait_seconds += l.wait_seconds;
            if (t.expert_tokens.size() < l.expert_tokens.size()) t.expert_tokens.resize(l.expert_tokens.size());
            for (size_t e = 0; e < l.expert_tokens.size(); ++e) t.expert_tokens[e] += l.expert_tokens[e];
        }
        return t;
    }
};

// A text table, one row per layer and a total: hits, misses, hit rate, prefetches and their
// accuracy, MiB uploaded, milliseconds waited, FFN passes, and the load balance (fewest and most
// tokens an expert received, and most over the mean).
std::string stats_table(const PagingStats& stats);

}  // namespace moevk::experts
