#include "experts/policy.h"

#include <cctype>
#include <cmath>
#include <string>

#include "gpu/error.h"

namespace moevk::experts {
namespace {

class Lru final : public ReplacementPolicy {
public:
    explicit Lru(uint32_t n_keys) : last_(n_keys, 0) {}
    void on_access(uint32_t key) override { last_.at(key) = ++clock_; }
    Rank rank(uint32_t key) const override { return {0.0, last_.at(key)}; }

private:
    uint64_t clock_ = 0;
    std::vector<uint64_t> last_;
};

// Counts are stored with the step they were last brought up to date, and aged lazily:
// count * decay^(now - step).
class Lfu final : public ReplacementPolicy {
public:
    Lfu(uint32_t n_keys, double decay) : decay_(decay), count_(n_keys, 0.0), step_(n_keys, 0), last_(n_keys, 0) {}
    void on_access(uint32_t key) override {
        count_.at(key) = aged(key) + 1.0;
        step_[key] = now_;
        last_[key] = ++clock_;
    }
    void on_step() override { ++now_; }
    Rank rank(uint32_t key) const override { return {aged(key), last_.at(key)}; }

private:
    double aged(uint32_t key) const { return count_.at(key) * std::pow(decay_, double(now_ - step_.at(key))); }

    double decay_;
    uint64_t now_ = 0;
    uint64_t clock_ = 0;
    std::vector<double> count_;
    std::vector<uint64_t> step_;
    std::vector<uint64_t> last_;  // ties between equal counts go to the least recently used
};

}  // namespace

const char* policy_name(CachePolicy policy) {
    switch (policy) {
        case CachePolicy::Lru: return "lru";
        case CachePolicy::Lfu: return "lfu";
    }
    return "?";
}

std::optional<CachePolicy> parse_policy(std::string_view name) {
    std::string s(name);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "lru") return CachePolicy::Lru;
    if (s == "lfu") return CachePolicy::Lfu;
    return std::nullopt;
}

std::unique_ptr<ReplacementPolicy> make_policy(CachePolicy policy, uint32_t n_keys, double lfu_decay) {
    if (!(lfu_decay > 0 && lfu_decay <= 1))
        throw Error(ErrorCode::InvalidArgument,
                    "LFU decay must be in (0, 1], got " + std::to_string(lfu_decay));
    switch (policy) {
        case CachePolicy::Lru: return std::make_unique<Lru>(n_keys);
        case CachePolicy::Lfu: return std::make_unique<Lfu>(n_keys, lfu_decay);
    }
    throw Error(ErrorCode::InvalidArgument, "unknown cache policy");
}

}  // namespace moevk::experts
