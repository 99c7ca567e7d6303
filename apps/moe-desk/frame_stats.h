// Frame times: the recent ones for the debug overlay's plot, and every frame's, by what the
// engine was doing, for the scripted mode's report.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

struct FrameSummary {
    size_t count = 0;
    double mean = 0, p50 = 0, p95 = 0, max = 0;
};

// count, mean, nearest-rank p50 and p95, max.
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

struct FrameStats {
    std::vector<float> recent;        // the last 240 frames, oldest first
    std::vector<double> generating;   // every frame during which a reply was being written
    std::vector<double> idle;         // every other frame once the model had loaded
    std::vector<double> step_call_ms; // time inside moevk_session_step itself

    void add(double ms, bool was_generating, bool had_model) {
        recent.push_back(float(ms));
        if (recent.size() > 240) recent.erase(recent.begin());
        if (was_generating) generating.push_back(ms);
        else if (had_model) idle.push_back(ms);
    }
};
