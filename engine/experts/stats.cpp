#include "experts/stats.h"

#include <algorithm>
#include <cstdio>

namespace moevk::experts {
namespace {

std::string row(const char* name, const LayerStats& l) {
    uint64_t lo = 0, hi = 0, sum = 0;
    if (!l.expert_tokens.empty()) {
        auto [mn, mx] = std::minmax_element(l.expert_tokens.begin(), l.expert_tokens.end());
        lo = *mn;
        hi = *mx;
        for (uint64_t n : l.expert_tokens) sum += n;
    }
    double mean = l.expert_tokens.empty() ? 0 : double(sum) / l.expert_tokens.size();
    char line[256];
    std::snprintf(line, sizeof line, "%-6s %8llu %8llu %6.1f%% %9llu %6.1f%% %10.1f %9.1f %7llu %8llu %8llu %8.2f\n",
                  name, static_cast<unsigned long long>(l.hits), static_cast<unsigned long long>(l.misses),
                  100.0 * l.hit_rate(), static_cast<unsigned long long>(l.prefetched), 100.0 * l.prefetch_accuracy(),
                  l.bytes_uploaded / 1048576.0, 1e3 * l.wait_seconds, static_cast<unsigned long long>(l.groups),
                  static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi),
                  mean > 0 ? double(hi) / mean : 0.0);
    return line;
}

}  // namespace

std::string stats_table(const PagingStats& stats) {
    char head[256];
    std::snprintf(head, sizeof head, "%-6s %8s %8s %7s %9s %7s %10s %9s %7s %8s %8s %8s\n", "layer", "hits", "misses",
                  "hit", "prefetch", "used", "MiB up", "wait ms", "passes", "tok min", "tok max", "max/mean");
    std::string out = head;
    for (size_t i = 0; i < stats.layers.size(); ++i) out += row(std::to_string(i).c_str(), stats.layers[i]);
    out += row("total", stats.total());
    return out;
}

}  // namespace moevk::experts
