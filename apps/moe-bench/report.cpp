#include "report.h"

#include <cstdio>
#include <string>

namespace moebench {

using namespace moevk;

namespace {

std::string format(const char* fmt, double a, double b = 0, double c = 0) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), fmt, a, b, c);
    return buf;
}

// Half the min-max range as a percentage of the median.
double spread_percent(const Summary& s) { return s.median > 0 ? 50.0 * (s.max - s.min) / s.median : 0; }

}  // namespace

void print_table(std::ostream& out, const gpu::DeviceInfo& device, const ProbeResult& probe,
                 const std::vector<LayerResult>& results) {
    out << "device: " << device.name << " (" << gpu::device_kind_name(device.kind) << ")\n";
    out << "copy probe: " << format("%.1f", probe.gbps()) << " GB/s (read + write, median of "
        << probe.seconds.samples << ")\n\n";
    char line[256];
    std::snprintf(line, sizeof(line), "%-8s %-5s %5s %8s  %-10s %11s %8s %9s %9s %7s\n", "shape", "fmt", "T",
                  "experts", "stage", "median ms", "spread", "GB/s", "GFLOP/s", "%copy");
    out << line;
    for (const LayerResult& r : results) {
        for (const StageResult& s : r.stages) {
            double sec = s.seconds.median;
            double gbps = sec > 0 ? s.bytes / sec / 1e9 : 0;
            std::string gflops = s.flops > 0 && sec > 0 ? format("%9.1f", s.flops / sec / 1e9) : std::string(9, ' ');
            std::snprintf(line, sizeof(line), "%-8s %-5s %5u %8u  %-10s %11.3f %7.1f%% %9.1f %s %6.1f%%\n",
                          r.shape.c_str(), quant::format_name(r.config.format), r.tokens, r.experts_touched,
                          s.name.c_str(), sec * 1e3, spread_percent(s.seconds), gbps, gflops.c_str(),
                          probe.gbps() > 0 ? 100.0 * gbps / probe.gbps() : 0.0);
            out << line;
        }
        out << "\n";
    }
}

nlohmann::json to_json(const gpu::DeviceInfo& device, const ProbeResult& probe,
                       const std::vector<LayerResult>& results) {
    nlohmann::json j;
    j["device"] = {{"name", device.name}, {"kind", gpu::device_kind_name(device.kind)}};
    j["copy_probe"] = {{"bytes", probe.bytes_per_copy},
                       {"median_s", probe.seconds.median},
                       {"gbps", probe.gbps()}};
    for (const LayerResult& r : results) {
        nlohmann::json row;
        row["shape"] = r.shape;
        row["d_model"] = r.config.d_model;
        row["d_ff"] = r.config.d_ff;
        row["n_experts"] = r.config.n_experts;
        row["top_k"] = r.config.top_k;
        row["format"] = quant::format_name(r.config.format);
        row["tokens"] = r.tokens;
        row["experts_touched"] = r.experts_touched;
        row["path"] = r.matvec_path ? "matvec" : "grouped_gemm";
        for (const StageResult& s : r.stages) {
            double sec = s.seconds.median;
            row["stages"].push_back({{"name", s.name},
                                     {"median_ms", sec * 1e3},
                                     {"min_ms", s.seconds.min * 1e3},
                                     {"max_ms", s.seconds.max * 1e3},
                                     {"samples", s.seconds.samples},
                                     {"bytes", s.bytes},
                                     {"flops", s.flops},
                                     {"gbps", sec > 0 ? s.bytes / sec / 1e9 : 0},
                                     {"gflops", sec > 0 ? s.flops / sec / 1e9 : 0},
                                     {"fraction_of_copy", sec > 0 ? s.bytes / sec / 1e9 / probe.gbps() : 0}});
        }
        j["results"].push_back(row);
    }
    return j;
}

}  // namespace moebench
