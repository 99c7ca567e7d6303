#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

namespace moebench {
namespace {

constexpr double kPanelW = 420, kPanelH = 280, kLeft = 70, kTop = 60, kGap = 90, kRowH = kPanelH + 120;

struct Series {
    std::string color, dash;
    std::vector<std::pair<double, double>> points;  // (share %, value)
};

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// A round axis maximum above v: 1, 2 or 5 times a power of ten.
double nice_max(double v) {
    if (v <= 0) return 1;
    double p = std::pow(10, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= v) return m * p;
    return 10 * p;
}

class Panel {
public:
    Panel(std::string& svg, double x0, double y0, double y_max, const std::string& title, const std::string& y_label,
          const char* tick_format, const std::string& clip_id)
        : svg_(svg), x0_(x0), y0_(y0), y_max_(y_max), clip_(clip_id) {
        svg_ += "<text x='" + fmt("%.0f", x0 + kPanelW / 2) + "' y='" + fmt("%.0f", y0 - 12) +
                "' text-anchor='middle' font-weight='bold'>" + title + "</text>\n";
        svg_ += "<clipPath id='" + clip_ + "'><rect x='" + fmt("%.1f", x0) + "' y='" + fmt("%.1f", y0) + "' width='" +
                fmt("%.0f", kPanelW) + "' height='" + fmt("%.0f", kPanelH) + "'/></clipPath>\n";
        for (int i = 0; i <= 4; ++i) {
            double gy = y(y_max * i / 4), gx = x(25.0 * i);
            svg_ += "<line x1='" + fmt("%.1f", x0) + "' y1='" + fmt("%.1f", gy) + "' x2='" + fmt("%.1f", x0 + kPanelW) +
                    "' y2='" + fmt("%.1f", gy) + "' stroke='#ddd'/>\n";
            svg_ += "<text x='" + fmt("%.1f", x0 - 6) + "' y='" + fmt("%.1f", gy + 4) + "' text-anchor='end'>" +
                    fmt(tick_format, y_max * i / 4) + "</text>\n";
            svg_ += "<line x1='" + fmt("%.1f", gx) + "' y1='" + fmt("%.1f", y0) + "' x2='" + fmt("%.1f", gx) +
                    "' y2='" + fmt("%.1f", y0 + kPanelH) + "' stroke='#eee'/>\n";
            svg_ += "<text x='" + fmt("%.1f", gx) + "' y='" + fmt("%.1f", y0 + kPanelH + 16) + "' text-anchor='middle'>" +
                    fmt("%.0f%%", 25.0 * i) + "</text>\n";
        }
        svg_ += "<rect x='" + fmt("%.1f", x0) + "' y='" + fmt("%.1f", y0) + "' width='" + fmt("%.0f", kPanelW) +
                "' height='" + fmt("%.0f", kPanelH) + "' fill='none' stroke='#333'/>\n";
        svg_ += "<text x='" + fmt("%.1f", x0 + kPanelW / 2) + "' y='" + fmt("%.1f", y0 + kPanelH + 34) +
                "' text-anchor='middle'>experts with a slot</text>\n";
        svg_ += "<text transform='translate(" + fmt("%.1f", x0 - 50) + "," + fmt("%.1f", y0 + kPanelH / 2) +
                ") rotate(-90)' text-anchor='middle'>" + y_label + "</text>\n";
    }

    void line(const Series& s, double width, bool markers, double opacity = 1.0) {
        if (s.points.empty()) return;
        std::string pts;
        for (const auto& [px, py] : s.points) pts += fmt("%.1f", x(px)) + "," + fmt("%.1f", y(py)) + " ";
        svg_ += "<polyline clip-path='url(#" + clip_ + ")' fill='none' stroke='" + s.color + "' stroke-width='" +
                fmt("%.1f", width) + "' stroke-opacity='" + fmt("%.2f", opacity) + "'" +
                (s.dash.empty() ? "" : " stroke-dasharray='" + s.dash + "'") + " points='" + pts + "'/>\n";
        if (markers)
            for (const auto& [px, py] : s.points)
                svg_ += "<circle clip-path='url(#" + clip_ + ")' cx='" + fmt("%.1f", x(px)) + "' cy='" +
                        fmt("%.1f", y(py)) + "' r='3' fill='" + s.color + "'/>\n";
    }

private:
    double x(double share) const { return x0_ + kPanelW * share / 100.0; }
    double y(double v) const { return y0_ + kPanelH * (1.0 - v / y_max_); }

    std::string& svg_;
    double x0_, y0_, y_max_;
    std::string clip_;
};

}  // namespace

std::string paging_svg(const std::vector<PagingResult>& results) {
    std::vector<std::string> models;
    for (const PagingResult& r : results)
        if (std::find(models.begin(), models.end(), r.path) == models.end()) models.push_back(r.path);
    const double width = kLeft + 2 * kPanelW + kGap + 30;
    const double height = kRowH * models.size() + 70;
    std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + fmt("%.0f", width) + "' height='" +
                      fmt("%.0f", height) + "' font-family='sans-serif' font-size='12'>\n" +
                      "<rect width='100%' height='100%' fill='white'/>\n";

    const std::map<std::string, std::string> colors = {{"lru", "#1f77b4"}, {"lfu", "#d62728"}};
    for (size_t m = 0; m < models.size(); ++m) {
        std::vector<const PagingResult*> rows;
        for (const PagingResult& r : results)
            if (r.path == models[m]) rows.push_back(&r);
        // One series per policy and prefetch setting; a budget that holds every expert ran once
        // and belongs to all of them.
        std::map<std::pair<std::string, bool>, Series> tps, hit, bound;
        Series belady{"#000", "8,4", {}};
        double tps_max = 0;
        for (const PagingResult* r : rows)
            if (r->paged) {
                auto key = std::make_pair(r->policy, r->prefetch);
                std::string color = colors.count(r->policy) ? colors.at(r->policy) : "#555";
                std::string dash = r->prefetch ? "" : "5,4";
                tps[key].color = hit[key].color = bound[key].color = color;
                tps[key].dash = hit[key].dash = dash;
                bound[key].dash = "2,3";
            }
        for (const PagingResult* r : rows) {
            double share = 100.0 * r->plan.share();
            tps_max = std::max(tps_max, r->tokens_per_second());
            for (auto& [key, s] : tps) {
                if (r->paged && key != std::make_pair(r->policy, r->prefetch)) continue;
                s.points.emplace_back(share, r->tokens_per_second());
                hit[key].points.emplace_back(share, 100.0 * r->stats.hit_rate());
                if (r->upload_bound() > 0) bound[key].points.emplace_back(share, r->upload_bound());
            }
            if (belady.points.empty() || belady.points.back().first != share)
                belady.points.emplace_back(share, 100.0 * r->belady_hit_rate);
        }
        for (auto* group : {&tps, &hit, &bound})
            for (auto& [key, s] : *group) std::sort(s.points.begin(), s.points.end());
        std::sort(belady.points.begin(), belady.points.end());

        double y0 = kTop + kRowH * m;
        std::string name = std::filesystem::path(models[m]).filename().string();
        Panel speed(svg, kLeft, y0, nice_max(tps_max * 1.1), name + ": generation", "tokens/s", "%.3g",
                    "clip" + std::to_string(2 * m));
        for (auto& [key, s] : bound) speed.line(s, 1.2, false, 0.8);
        for (auto& [key, s] : tps) speed.line(s, 2, true);
        // Where uploads are far from the limit the bound lies above the chart: say where.
        double lowest_bound = 0;
        for (auto& [key, s] : bound)
            for (const auto& point : s.points)
                if (lowest_bound == 0 || point.second < lowest_bound) lowest_bound = point.second;
        if (lowest_bound > nice_max(tps_max * 1.1))
            svg += "<text x='" + fmt("%.0f", kLeft + 8) + "' y='" + fmt("%.0f", y0 + 16) + "' fill='#555'>upload bound " +
                   fmt("%.3g", lowest_bound) + " tokens/s or more: above the chart</text>\n";
        Panel rate(svg, kLeft + kPanelW + kGap, y0, 100, name + ": expert hit rate", "hit rate (%)", "%.0f%%",
                   "clip" + std::to_string(2 * m + 1));
        rate.line(belady, 1.5, false);
        for (auto& [key, s] : hit) rate.line(s, 2, true);
    }

    // Legend along the bottom.
    double ly = height - 26, lx = kLeft;
    auto entry = [&](const std::string& color, const std::string& dash, const std::string& label) {
        svg += "<line x1='" + fmt("%.0f", lx) + "' y1='" + fmt("%.0f", ly) + "' x2='" + fmt("%.0f", lx + 28) +
               "' y2='" + fmt("%.0f", ly) + "' stroke='" + color + "' stroke-width='2'" +
               (dash.empty() ? "" : " stroke-dasharray='" + dash + "'") + "/>\n";
        svg += "<text x='" + fmt("%.0f", lx + 34) + "' y='" + fmt("%.0f", ly + 4) + "'>" + label + "</text>\n";
        lx += 44 + 7.0 * label.size();
    };
    entry(colors.at("lru"), "", "LRU, prefetch");
    entry(colors.at("lru"), "5,4", "LRU, no prefetch");
    entry(colors.at("lfu"), "", "LFU, prefetch");
    entry(colors.at("lfu"), "5,4", "LFU, no prefetch");
    entry("#777", "2,3", "upload bound");
    entry("#000", "8,4", "Belady");
    svg += "</svg>\n";
    return svg;
}

}  // namespace moebench
