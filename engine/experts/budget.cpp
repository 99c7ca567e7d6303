#include "experts/budget.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "gpu/error.h"

namespace moevk::experts {
namespace {

[[noreturn]] void bad(const std::string& text, const std::string& why) {
    throw Error(ErrorCode::InvalidArgument, "VRAM budget \"" + text + "\": " + why +
                                                " (use bytes such as 6G or 512M, a share of the experts "
                                                "such as 50%, or min)");
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::string format_bytes(uint64_t bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[48];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
    return buf;
}

VramBudget parse_vram_budget(const std::string& text) {
    std::string s = lower(text);
    if (s == "min") return {VramBudget::Kind::Min, 0, 0};
    if (s.empty()) bad(text, "empty");
    size_t used = 0;
    double value = 0;
    try {
        value = std::stod(s, &used);
    } catch (const std::exception&) {
        bad(text, "not a number");
    }
    if (!std::isfinite(value) || value < 0 || s[0] == '-' || s[0] == '+') bad(text, "must be a positive number");
    std::string suffix = s.substr(used);
    if (suffix == "%") {
        if (value <= 0 || value > 100) bad(text, "a share must be in (0, 100]%");
        return {VramBudget::Kind::Percent, 0, value};
    }
    int shift = 0;
    if (!suffix.empty()) {
        const std::string units = "kmgt";
        size_t u = units.find(suffix[0]);
        std::string rest = suffix.substr(1);
        if (u == std::string::npos || !(rest.empty() || rest == "b" || rest == "ib"))
            bad(text, "unknown unit \"" + suffix + "\"");
        shift = 10 * int(u + 1);
    }
    double bytes = std::floor(value * std::ldexp(1.0, shift));
    if (bytes < 1 || bytes > 1.8e19) bad(text, "out of range");
    return {VramBudget::Kind::Bytes, static_cast<uint64_t>(bytes), 0};
}

std::string describe(const VramBudget& b) {
    switch (b.kind) {
        case VramBudget::Kind::Min: return "min";
        case VramBudget::Kind::Percent: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%g%% of the experts", b.percent);
            return buf;
        }
        case VramBudget::Kind::Bytes: return format_bytes(b.bytes);
    }
    return "?";
}

std::string describe(const SlotPlan& p) {
    char share[32];
    std::snprintf(share, sizeof share, "%.0f%%", 100.0 * p.share());
    return std::to_string(p.slots) + " of " + std::to_string(p.total_experts) + " expert slots (" + share + ") of " +
           format_bytes(p.slot_bytes) + "; device memory " + format_bytes(p.device_bytes) + ": " +
           format_bytes(p.resident_bytes) + " resident weights, " + format_bytes(p.session_bytes) +
           " KV cache and scratch, " + format_bytes(uint64_t(p.slots) * p.slot_bytes) + " slots";
}

SlotPlan plan_slots(const VramBudget& budget, const SlotDemand& d) {
    if (d.slot_bytes == 0 || d.total_experts == 0 || d.min_slots == 0 || d.min_slots > d.total_experts)
        throw Error(ErrorCode::InvalidArgument, "expert slots: " + std::to_string(d.total_experts) +
                                                    " experts of " + std::to_string(d.slot_bytes) +
                                                    " bytes with a minimum of " + std::to_string(d.min_slots) +
                                                    " slots cannot be planned");
    const uint64_t fixed = d.resident_bytes + d.session_bytes;
    SlotPlan plan;
    plan.total_experts = d.total_experts;
    plan.slot_bytes = d.slot_bytes;
    plan.resident_bytes = d.resident_bytes;
    plan.session_bytes = d.session_bytes;
    plan.min_budget_bytes = fixed + uint64_t(d.min_slots) * d.slot_bytes;
    uint64_t slots = 0;
    switch (budget.kind) {
        case VramBudget::Kind::Min: slots = d.min_slots; break;
        case VramBudget::Kind::Percent:
            // A tiny epsilon so that 75% of 16 experts is 12, not 11, after rounding in the product.
            slots = static_cast<uint64_t>(std::floor(budget.percent / 100.0 * d.total_experts + 1e-9));
            break;
        case VramBudget::Kind::Bytes:
            slots = budget.bytes >= fixed ? (budget.bytes - fixed) / d.slot_bytes : 0;
            break;
    }
    if (slots < d.min_slots)
        throw Error(ErrorCode::InvalidArgument,
                    "VRAM budget " + describe(budget) + " is too small: it leaves " + std::to_string(slots) +
                        " expert slots, and one layer's top-k needs " + std::to_string(d.min_slots) +
                        "; the smallest budget that works is " + std::to_string(plan.min_budget_bytes) + " bytes (" +
                        format_bytes(plan.min_budget_bytes) + ": " + format_bytes(d.resident_bytes) +
                        " resident weights, " + format_bytes(d.session_bytes) + " KV cache and scratch, " +
                        std::to_string(d.min_slots) + " slots of " + format_bytes(d.slot_bytes) + ")");
    plan.slots = static_cast<uint32_t>(std::min<uint64_t>(slots, d.total_experts));
    plan.device_bytes = fixed + uint64_t(plan.slots) * d.slot_bytes;
    return plan;
}

}  // namespace moevk::experts
