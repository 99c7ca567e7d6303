// Expert residency without a GPU: budget parsing and slot planning, the replacement policies,
// the bookkeeping that keeps queued readers' slots from being reused, groups for prompt
// batches, and the trace replays (Belady bounds every policy).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <set>

#include "experts/budget.h"
#include "experts/groups.h"
#include "experts/oracle.h"
#include "experts/residency.h"
#include "experts/stats.h"
#include "gpu/error.h"

namespace moevk::experts {
namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
}

TEST(VramBudget, ParsesBytesSharesAndMin) {
    EXPECT_EQ(parse_vram_budget("6G").bytes, 6ull << 30);
    EXPECT_EQ(parse_vram_budget("6GiB").bytes, 6ull << 30);
    EXPECT_EQ(parse_vram_budget("6gb").bytes, 6ull << 30);
    EXPECT_EQ(parse_vram_budget("512M").bytes, 512ull << 20);
    EXPECT_EQ(parse_vram_budget("1.5G").bytes, 3ull << 29);
    EXPECT_EQ(parse_vram_budget("64k").bytes, 64ull << 10);
    EXPECT_EQ(parse_vram_budget("1073741824").bytes, 1ull << 30);
    EXPECT_EQ(parse_vram_budget("1073741824").kind, VramBudget::Kind::Bytes);
    VramBudget half = parse_vram_budget("50%");
    EXPECT_EQ(half.kind, VramBudget::Kind::Percent);
    EXPECT_EQ(half.percent, 50.0);
    EXPECT_EQ(parse_vram_budget("min").kind, VramBudget::Kind::Min);
    EXPECT_EQ(parse_vram_budget("MIN").kind, VramBudget::Kind::Min);
}

TEST(VramBudget, RejectsWhatIsNotABudgetNamingIt) {
    for (const char* text : {"", "abc", "-5G", "+5G", "0%", "150%", "5X", "5Gx", "0", "nan", "inf"}) {
        std::string message = error_of([&] { parse_vram_budget(text); });
        EXPECT_NE(message.find(std::string("\"") + text + "\""), std::string::npos) << message;
    }
}

SlotDemand demand() {
    SlotDemand d;
    d.resident_bytes = 1000;
    d.session_bytes = 500;
    d.slot_bytes = 100;
    d.total_experts = 24;
    d.min_slots = 2;
    return d;
}

TEST(SlotPlan, BytesLeaveSlotsAfterResidentWeightsAndScratch) {
    SlotPlan p = plan_slots(parse_vram_budget("2150"), demand());
    EXPECT_EQ(p.slots, 6u);
    EXPECT_EQ(p.device_bytes, 2100u);
    EXPECT_EQ(p.min_budget_bytes, 1700u);
    EXPECT_FALSE(p.all_resident());
    // More than every expert needs: capped, all resident.
    p = plan_slots(parse_vram_budget("1G"), demand());
    EXPECT_EQ(p.slots, 24u);
    EXPECT_TRUE(p.all_resident());
}

TEST(SlotPlan, SharesAndMin) {
    EXPECT_EQ(plan_slots(parse_vram_budget("75%"), demand()).slots, 18u);
    EXPECT_EQ(plan_slots(parse_vram_budget("50%"), demand()).slots, 12u);
    EXPECT_EQ(plan_slots(parse_vram_budget("25%"), demand()).slots, 6u);
    EXPECT_EQ(plan_slots(parse_vram_budget("100%"), demand()).slots, 24u);
    SlotPlan min = plan_slots(parse_vram_budget("min"), demand());
    EXPECT_EQ(min.slots, 2u);
    EXPECT_EQ(min.device_bytes, min.min_budget_bytes);
    SlotDemand d = demand();
    d.total_experts = 16;
    EXPECT_EQ(plan_slots(parse_vram_budget("75%"), d).slots, 12u);
}

TEST(SlotPlan, TooSmallIsRefusedWithTheMinimum) {
    std::string m = error_of([] { plan_slots(parse_vram_budget("1699"), demand()); });
    EXPECT_NE(m.find("1700 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("top-k needs 2"), std::string::npos) << m;
    m = error_of([] { plan_slots(parse_vram_budget("5%"), demand()); });  // 1 slot of 24
    EXPECT_NE(m.find("1700 bytes"), std::string::npos) << m;
    error_of([] { plan_slots(parse_vram_budget("100"), demand()); });  // not even the weights
    EXPECT_EQ(plan_slots(parse_vram_budget("1700"), demand()).slots, 2u);
}

TEST(SlotPlan, DescribesItself) {
    SlotPlan p = plan_slots(parse_vram_budget("50%"), demand());
    std::string text = describe(p);
    EXPECT_NE(text.find("12 of 24 expert slots (50%)"), std::string::npos) << text;
    EXPECT_NE(text.find("1000 bytes resident weights"), std::string::npos) << text;
    EXPECT_EQ(format_bytes(3ull << 29), "1.50 GiB");
}

TEST(Stats, TotalsAndTable) {
    PagingStats s;
    s.layers.resize(2);
    s.layers[0] = {.hits = 3, .misses = 1, .prefetched = 2, .prefetch_used = 1, .uploads = 3, .bytes_uploaded = 300,
                   .groups = 1, .wait_seconds = 0.5, .expert_tokens = {4, 0, 2}};
    s.layers[1] = {.hits = 1, .misses = 3, .uploads = 3, .bytes_uploaded = 300, .groups = 2, .expert_tokens = {1, 1, 4}};
    LayerStats t = s.total();
    EXPECT_EQ(t.hits, 4u);
    EXPECT_EQ(t.misses, 4u);
    EXPECT_EQ(t.hit_rate(), 0.5);
    EXPECT_EQ(t.prefetch_accuracy(), 0.5);
    EXPECT_EQ(t.expert_tokens, (std::vector<uint64_t>{5, 1, 6}));
    std::string table = stats_table(s);
    EXPECT_NE(table.find("total"), std::string::npos) << table;
    EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 4) << table;  // head, 2 layers, total
}

TEST(Policy, ParsesNames) {
    EXPECT_EQ(parse_policy("lru"), CachePolicy::Lru);
    EXPECT_EQ(parse_policy("LFU"), CachePolicy::Lfu);
    EXPECT_FALSE(parse_policy("fifo"));
    EXPECT_STREQ(policy_name(CachePolicy::Lfu), "lfu");
    error_of([] { make_policy(CachePolicy::Lfu, 4, 0.0); });
}

// Fills the slots with experts 0..n-1 of layer 0, accessed in order.
void fill(Residency& r) {
    for (uint32_t e = 0; e < r.n_slots(); ++e) {
        uint32_t s = r.pick_slot();
        ASSERT_EQ(s, e) << "empty slots go first, lowest index first";
        r.assign(s, 0, e);
        r.access(0, e);
    }
}

TEST(Residency, LruEvictsTheLeastRecentlyUsed) {
    Residency r(2, 8, 4, CachePolicy::Lru);
    fill(r);
    r.access(0, 0);  // 1 is now the oldest
    EXPECT_EQ(r.pick_slot(), r.slot_of(0, 1));
    r.assign(r.slot_of(0, 1), 1, 5);
    EXPECT_EQ(r.slot_of(0, 1), kNoSlot);
    EXPECT_EQ(r.slot_of(1, 5), 1u);
    r.access(1, 5);
    EXPECT_EQ(r.pick_slot(), r.slot_of(0, 2));
}

TEST(Residency, PinnedSlotsAndSlotsStillReadAreNotReused) {
    Residency r(1, 8, 3, CachePolicy::Lru);
    fill(r);
    r.pin(0);
    r.pin(1);
    EXPECT_EQ(r.pick_slot(), 2u);
    r.pin(2);
    EXPECT_EQ(r.pick_slot(), kNoSlot) << "every slot pinned";
    r.unpin_all();
    // A queued submission (compute value 7) still reads slots 0 and 1; 5 has completed.
    r.set_last_use(0, 7);
    r.set_last_use(1, 7);
    r.set_last_use(2, 7);
    EXPECT_EQ(r.pick_slot(5), kNoSlot) << "prefetch must not take a slot a queued dispatch reads";
    r.set_last_use(2, 5);
    EXPECT_EQ(r.pick_slot(5), 2u);
    // Demand may take any unpinned slot: its upload then waits for the last use.
    r.set_last_use(2, 7);
    EXPECT_EQ(r.pick_slot(), 0u);
    EXPECT_EQ(r.slot(0).last_use, 7u);
    r.assign(0, 0, 6);
    EXPECT_EQ(r.slot(0).last_use, 7u) << "the last use survives the eviction";
    EXPECT_FALSE(r.slot(0).pinned);
}

TEST(Residency, AFailedUploadLeavesTheSlotEmpty) {
    Residency r(1, 4, 2, CachePolicy::Lru);
    fill(r);
    r.clear(1);
    EXPECT_EQ(r.slot_of(0, 1), kNoSlot);
    EXPECT_TRUE(r.slot(1).empty());
    EXPECT_EQ(r.pick_slot(), 1u);
    error_of([&] { r.assign(1, 0, 0); });  // expert 0 already has slot 0
    error_of([&] { r.assign(1, 1, 0); });  // no layer 1
}

TEST(Residency, LfuKeepsTheFrequentAndDecays) {
    Residency r(1, 8, 2, CachePolicy::Lfu, 0.5);
    fill(r);
    for (int i = 0; i < 3; ++i) r.access(0, 0);
    r.access(0, 1);  // most recent, but used less
    EXPECT_EQ(r.pick_slot(), r.slot_of(0, 1));
    // After enough steps without use, expert 0's count (4 * 0.5^3 = 0.5) falls below a fresh use.
    for (int i = 0; i < 3; ++i) r.end_step();
    r.access(0, 1);
    EXPECT_EQ(r.pick_slot(), r.slot_of(0, 0));
}

TEST(Groups, ResidentFirstThenMissesThatFit) {
    Residency r(1, 16, 4, CachePolicy::Lru);
    r.assign(0, 0, 3);
    r.assign(1, 0, 9);
    std::vector<uint32_t> demand = {1, 3, 5, 9, 11, 12, 13, 14, 3};
    auto g = split_groups(r, 0, demand);
    ASSERT_EQ(g.size(), 2u);
    EXPECT_EQ(g[0], (std::vector<uint32_t>{3, 9, 1, 5}));
    EXPECT_EQ(g[1], (std::vector<uint32_t>{11, 12, 13, 14}));
    EXPECT_TRUE(split_groups(r, 0, {}).empty());
    EXPECT_EQ(split_groups(r, 0, {9, 3}), (std::vector<std::vector<uint32_t>>{{9, 3}}));
}

TEST(Groups, ASingleSlotTakesOneExpertAtATime) {
    Residency r(1, 8, 1, CachePolicy::Lru);
    r.assign(0, 0, 2);
    auto g = split_groups(r, 0, {5, 2, 7});
    EXPECT_EQ(g, (std::vector<std::vector<uint32_t>>{{2}, {5}, {7}}));
}

Trace random_trace(uint32_t steps, uint32_t layers, uint32_t n_experts, uint32_t k, uint64_t seed) {
    std::mt19937_64 rng(seed);
    // Skewed popularity, as routers have: expert e drawn with weight 1 / (e + 1).
    std::vector<double> w(n_experts);
    for (uint32_t e = 0; e < n_experts; ++e) w[e] = 1.0 / (e + 1);
    Trace t(steps, std::vector<std::vector<uint32_t>>(layers));
    for (auto& step : t)
        for (auto& layer : step) {
            std::discrete_distribution<uint32_t> pick(w.begin(), w.end());
            while (layer.size() < k) {
                uint32_t e = (pick(rng) + uint32_t(rng() % 3)) % n_experts;
                if (std::find(layer.begin(), layer.end(), e) == layer.end()) layer.push_back(e);
            }
        }
    return t;
}

TEST(Replay, BeladyBoundsThePolicies) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
        Trace t = random_trace(60, 3, 8, 2, seed);
        for (uint32_t slots : {2u, 4u, 6u, 12u, 23u}) {
            ReplayResult opt = replay_belady(t, 8, slots);
            for (CachePolicy p : {CachePolicy::Lru, CachePolicy::Lfu}) {
                ReplayResult r = replay_policy(t, 8, slots, p);
                EXPECT_EQ(r.hits + r.misses, opt.hits + opt.misses);
                EXPECT_GE(opt.hits, r.hits) << policy_name(p) << " slots " << slots << " seed " << seed;
            }
        }
        // Every expert fits: only the first use of each misses.
        ReplayResult all = replay_policy(t, 8, 24, CachePolicy::Lru);
        std::set<std::pair<uint32_t, uint32_t>> distinct;
        for (const auto& step : t)
            for (uint32_t l = 0; l < step.size(); ++l)
                for (uint32_t e : step[l]) distinct.insert({l, e});
        EXPECT_EQ(all.misses, distinct.size());
        EXPECT_EQ(replay_belady(t, 8, 24).misses, distinct.size());
    }
}

TEST(Replay, BeladyOnAKnownSequence) {
    // One layer, one expert per step, 3 slots: the textbook sequence 1 2 3 4 1 2 5 1 2 3 4 5
    // has 7 misses under Belady and 10 under LRU.
    std::vector<uint32_t> seq = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};
    Trace t;
    for (uint32_t e : seq) t.push_back({{e}});
    EXPECT_EQ(replay_belady(t, 8, 3).misses, 7u);
    EXPECT_EQ(replay_policy(t, 8, 3, CachePolicy::Lru).misses, 10u);
}

TEST(Replay, DemandsLargerThanTheSlotsRunInGroups) {
    Trace t = {{{0, 1, 2, 3, 4, 5}}, {{0, 1, 2, 3, 4, 5}}};
    ReplayResult r = replay_policy(t, 8, 4, CachePolicy::Lru);
    EXPECT_EQ(r.hits + r.misses, 12u);
    EXPECT_GE(replay_belady(t, 8, 4).hits, r.hits);
    error_of([&] { replay_belady(t, 4, 4); });  // expert 5 of 4
}

}  // namespace
}  // namespace moevk::experts
