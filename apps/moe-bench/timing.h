// Repeats GPU work until it has run for a minimum time and summarises the samples.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

namespace moebench {

struct Summary {
    double median = 0, min = 0, max = 0;
    size_t samples = 0;
};

inline Summary summarize(std::vector<double> v) {
    Summary s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    s.min = v.front();
    s.max = v.back();
    s.samples = n;
    return s;
}

// Calls `run_once` (which returns the GPU seconds it measured) once to warm up, then until the
// measured time adds up to min_seconds and at least min_samples have been taken.
inline std::vector<double> repeat(const std::function<double()>& run_once, double min_seconds,
                                  size_t min_samples = 3) {
    run_once();
    std::vector<double> samples;
    double total = 0;
    while (total < min_seconds || samples.size() < min_samples) {
        double s = run_once();
        samples.push_back(s);
        total += s;
    }
    return samples;
}

}  // namespace moebench
