// count, mean, p50, p95, max of a set of frame times in ms (nearest-rank percentiles): what the
// game and moe-desk report of their frames.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

struct FrameSummary {
    size_t count = 0;
    double mean = 0, p50 = 0, p95 = 0, max = 0;
};

inline FrameSummary summarise(std::vector<double> ms) {
    FrameSummary s;
    s.count = ms.size();
    if (ms.empty()) return s;
    std::sort(ms.begin(), ms.end());
    auto rank = [&](double p) { return ms[std::max<size_t>(1, size_t(std::ceil(p * ms.size()))) - 1]; };
    for (double v : ms) s.mean += v;
    s.mean /= ms.size();
    s.p50 = rank(0.50);
    s.p95 = rank(0.95);
    s.max = ms.back();
    return s;
}
