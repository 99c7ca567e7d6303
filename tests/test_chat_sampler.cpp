// The sampler, no GPU: greedy choice and its ties, top-k = 1 against greedy, reproducible draws,
// draw frequencies against the softmax of the tempered logits (a chi-square bound), what top-p
// and min-p keep, and which logits the penalties change.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "gpu/error.h"
#include "runtime/sampler.h"

namespace moevk::runtime {
namespace {

SamplingParams plain(float temperature) {
    SamplingParams p;
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
    double max = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p;
    double sum = 0;
    for (float l : logits) sum += p.emplace_back(std::exp((l - max) / temperature));
    for (double& x : p) x /= sum;
    return p;
}

// Pearson's statistic of `draws` tokens drawn from `s` against `expected` (zero where a token
// must never come up: any such draw fails at once).
double chi_square(Sampler& s, const std::vector<float>& logits, const std::vector<double>& expected,
                  int draws) {
    std::vector<int> counts(logits.size());
    for (int i = 0; i < draws; ++i) ++counts.at(s.sample(logits));
    double chi2 = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        if (expected[i] == 0) {
            EXPECT_EQ(counts[i], 0) << "token " << i << " is excluded but was drawn";
            continue;
        }
        double e = expected[i] * draws;
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi2;
}

// Logits whose softmax is exactly `p` (up to rounding), placed at the ids of `at`.
std::vector<float> logits_of(const std::vector<double>& p, const std::vector<uint32_t>& at) {
    std::vector<float> l(at.size());
    for (size_t i = 0; i < p.size(); ++i) l[at[i]] = static_cast<float>(std::log(p[i]));
    return l;
}

std::vector<uint32_t> ids(const std::vector<Sampler::Candidate>& c) {
    std::vector<uint32_t> v;
    for (const auto& x : c) v.push_back(x.id);
    return v;
}

TEST(Sampler, GreedyPicksTheMaximumAndTiesGoToTheLowerId) {
    Sampler s(plain(0));
    EXPECT_EQ(s.sample(std::vector<float>{0.1f, -2.0f, 3.5f, 1.0f}), 2u);
    EXPECT_EQ(s.sample(std::vector<float>{1.0f, 5.0f, 5.0f, 2.0f, 5.0f}), 1u);
    EXPECT_EQ(s.sample(std::vector<float>{-INFINITY, -7.0f, -INFINITY}), 1u);
    auto c = s.candidates(std::vector<float>{4.0f, 4.0f});
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].id, 0u);
    EXPECT_EQ(c[0].p, 1.0);
}

TEST(Sampler, TopKOneIsGreedy) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> level(0, 6);  // few levels: many ties
    SamplingParams p;                                // the defaults, but one candidate
    p.top_k = 1;
    p.temperature = 1.3f;
    Sampler top1(p), greedy(plain(0));
    for (int row = 0; row < 200; ++row) {
        std::vector<float> logits(64);
        for (float& l : logits) l = static_cast<float>(level(rng)) * 0.5f;
        EXPECT_EQ(top1.sample(logits), greedy.sample(logits)) << "row " << row;
    }
}

TEST(Sampler, SameSeedSameTokens) {
    std::vector<float> logits(50);
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0.0f, 2.0f);
    for (float& l : logits) l = n(rng);
    SamplingParams p;
    p.seed = 42;
    Sampler a(p), b(p);
    std::vector<uint32_t> first, second;
    for (int i = 0; i < 500; ++i) first.push_back(a.sample(logits));
    for (int i = 0; i < 500; ++i) second.push_back(b.sample(logits));
    EXPECT_EQ(first, second);

    p.seed = 43;
    Sampler c(p);
    std::vector<uint32_t> other;
    for (int i = 0; i < 500; ++i) other.push_back(c.sample(logits));
    EXPECT_NE(first, other);

    a.reseed(42);
    std::vector<uint32_t> again;
    for (int i = 0; i < 500; ++i) again.push_back(a.sample(logits));
    EXPECT_EQ(first, again);
}

// 20000 draws over 8 tokens: the statistic has 7 degrees of freedom, and exceeds 24.32 with
// probability 0.001 when the sampler draws from the expected distribution.
TEST(Sampler, FrequenciesFollowTheTemperedSoftmax) {
    const std::vector<float> logits{0.5f, -1.0f, 2.0f, 0.0f, 1.5f, -0.5f, 0.2f, 1.0f};
    for (float temperature : {0.7f, 1.0f, 1.8f}) {
        SamplingParams p = plain(temperature);
        p.seed = 1234;
        Sampler s(p);
        std::vector<double> expected = softmax(logits, temperature);
        auto c = s.candidates(logits);
        ASSERT_EQ(c.size(), logits.size());
        for (const auto& x : c) EXPECT_NEAR(x.p, expected[x.id], 1e-12);
        EXPECT_LT(chi_square(s, logits, expected, 20000), 24.32) << "temperature " << temperature;
    }
}

TEST(Sampler, FrequenciesFollowTheTruncatedDistribution) {
    // Probabilities 0.30, 0.22, 0.16, 0.12, 0.08, 0.06, 0.04, 0.02 at shuffled ids. top-k 6 keeps
    // the first six (sum 0.94); top-p 0.8 of those needs 0.30+0.22+0.16+0.12 = 0.80/0.94 = 0.851
    // >= 0.8: four; min-p 0.3 keeps p >= 0.09: four as well, so top-p decides at min-p 0.5
    // (p >= 0.15: three).
    const std::vector<double> probs{0.30, 0.22, 0.16, 0.12, 0.08, 0.06, 0.04, 0.02};
    const std::vector<uint32_t> at{5, 2, 7, 0, 3, 6, 1, 4};
    const std::vector<float> logits = logits_of(probs, at);
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 6;
    p.top_p = 0.8f;
    p.min_p = 0.3f;
    p.seed = 99;
    Sampler s(p);
    EXPECT_EQ(ids(s.candidates(logits)), (std::vector<uint32_t>{5, 2, 7, 0}));
    std::vector<double> expected(8, 0.0);
    for (int i = 0; i < 4; ++i) expected[at[i]] = probs[i] / 0.80;
    // 3 degrees of freedom: 16.27 at 0.001.
    EXPECT_LT(chi_square(s, logits, expected, 20000), 16.27);

    p.min_p = 0.5f;
    EXPECT_EQ(ids(Sampler(p).candidates(logits)), (std::vector<uint32_t>{5, 2, 7}));
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
    const std::vector<float> logits = logits_of({0.5, 0.3, 0.15, 0.05}, {2, 0, 3, 1});
    SamplingParams p = plain(1.0f);
    p.top_p = 0.75f;
    auto c = Sampler(p).candidates(logits);
    ASSERT_EQ(ids(c), (std::vector<uint32_t>{2, 0}));
    EXPECT_NEAR(c[0].p, 0.5 / 0.8, 1e-6);
    EXPECT_NEAR(c[1].p, 0.3 / 0.8, 1e-6);
    p.top_p = 0.85f;
    EXPECT_EQ(ids(Sampler(p).candidates(logits)), (std::vector<uint32_t>{2, 0, 3}));
    p.top_p = 0.0f;  // keeps one
    EXPECT_EQ(ids(Sampler(p).candidates(logits)), (std::vector<uint32_t>{2}));

    // Temperature comes after the cut: the same two tokens, reshaped to p^(1/2).
    p.top_p = 0.75f;
    p.temperature = 2.0f;
    c = Sampler(p).candidates(logits);
    ASSERT_EQ(ids(c), (std::vector<uint32_t>{2, 0}));
    double a = std::sqrt(0.5), b = std::sqrt(0.3);
    EXPECT_NEAR(c[0].p, a / (a + b), 1e-6);
}

TEST(Sampler, MinPIsRelativeToTheMostLikely) {
    const std::vector<float> logits = logits_of({0.5, 0.3, 0.15, 0.05}, {2, 0, 3, 1});
    SamplingParams p = plain(1.0f);
    p.min_p = 0.2f;  // keeps p >= 0.1
    EXPECT_EQ(ids(Sampler(p).candidates(logits)), (std::vector<uint32_t>{2, 0, 3}));
    p.min_p = 0.5f;  // keeps p >= 0.25
    EXPECT_EQ(ids(Sampler(p).candidates(logits)), (std::vector<uint32_t>{2, 0}));
    p.min_p = 1.0f;
    EXPECT_EQ(ids(Sampler(p).candidates(logits)), (std::vector<uint32_t>{2}));
    // Behind top-k, min-p still measures against the most likely token.
    p.min_p = 0.2f;
    p.top_k = 2;
    EXPECT_EQ(ids(Sampler(p).candidates(logits)), (std::vector<uint32_t>{2, 0}));
}

TEST(Sampler, PenaltiesChangeTheRightLogits) {
    SamplingParams p;
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.1f;
    p.presence_penalty = 0.5f;
    p.penalty_last_n = 64;
    std::vector<float> l{2.0f, -2.0f, 1.0f, 0.5f, 3.0f};
    const std::vector<uint32_t> recent{0, 1, 0, 3};
    apply_penalties(l, recent, p);
    EXPECT_NEAR(l[0], 2.0f / 2 - (2 * 0.1f + 0.5f), 1e-6);  // positive: divided; seen twice
    EXPECT_NEAR(l[1], -2.0f * 2 - (0.1f + 0.5f), 1e-6);     // negative: multiplied
    EXPECT_EQ(l[2], 1.0f);                                  // not seen
    EXPECT_NEAR(l[3], 0.5f / 2 - (0.1f + 0.5f), 1e-6);
    EXPECT_EQ(l[4], 3.0f);

    // Only the last penalty_last_n tokens count: {0, 3}.
    p.penalty_last_n = 2;
    l = {2.0f, -2.0f, 1.0f, 0.5f, 3.0f};
    apply_penalties(l, recent, p);
    EXPECT_NEAR(l[0], 2.0f / 2 - (0.1f + 0.5f), 1e-6);
    EXPECT_EQ(l[1], -2.0f);
    EXPECT_NEAR(l[3], 0.5f / 2 - (0.1f + 0.5f), 1e-6);
    p.penalty_last_n = 0;
    l = {2.0f, -2.0f, 1.0f, 0.5f, 3.0f};
    apply_penalties(l, recent, p);
    EXPECT_EQ(l, (std::vector<float>{2.0f, -2.0f, 1.0f, 0.5f, 3.0f}));

    // Through the sampler: a presence penalty turns greedy away from the repeated token.
    SamplingParams g = plain(0);
    g.presence_penalty = 0.5f;
    Sampler s(g);
    const std::vector<float> row{1.0f, 0.9f, 0.0f};
    EXPECT_EQ(s.sample(row), 0u);
    EXPECT_EQ(s.sample(row, std::vector<uint32_t>{0}), 1u);
    EXPECT_EQ(s.sample(row, std::vector<uint32_t>{0, 1}), 0u);
}

TEST(Sampler, LargeVocabulary) {
    std::vector<float> logits(151936);
    std::mt19937 rng(11);
    std::normal_distribution<float> n(0.0f, 3.0f);
    for (float& l : logits) l = n(rng);
    SamplingParams p;
    p.top_k = 0;
    p.top_p = 0.9f;
    p.min_p = 0.0f;
    Sampler s(p);
    auto c = s.candidates(logits);
    double sum = 0;
    for (size_t i = 0; i < c.size(); ++i) {
        sum += c[i].p;
        if (i > 0) {
            EXPECT_GE(logits[c[i - 1].id], logits[c[i].id]);
        }
    }
    EXPECT_NEAR(sum, 1.0, 1e-9);
    EXPECT_GT(c.size(), 1u);
    uint32_t t = s.sample(logits);
    EXPECT_TRUE(std::any_of(c.begin(), c.end(), [&](const auto& x) { return x.id == t; }));
}

void expect_invalid(const std::function<void()>& f, const std::string& part) {
    try {
        f();
        ADD_FAILURE() << "no error thrown; expected one mentioning " << part;
    } catch (const Error& e) {
        EXPECT_EQ(static_cast<int>(e.code()), static_cast<int>(ErrorCode::InvalidArgument))
            << e.what();
        EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
}

TEST(Sampler, Errors) {
    auto with = [](auto change) {
        SamplingParams p;
        change(p);
        return [p] { Sampler s(p); };
    };
    expect_invalid(with([](SamplingParams& p) { p.temperature = -1; }), "temperature");
    expect_invalid(with([](SamplingParams& p) { p.temperature = NAN; }), "temperature");
    expect_invalid(with([](SamplingParams& p) { p.top_k = -5; }), "top_k");
    expect_invalid(with([](SamplingParams& p) { p.top_p = 1.5f; }), "top_p");
    expect_invalid(with([](SamplingParams& p) { p.min_p = -0.1f; }), "min_p");
    expect_invalid(with([](SamplingParams& p) { p.repeat_penalty = 0; }), "repeat_penalty");
    expect_invalid(with([](SamplingParams& p) { p.presence_penalty = INFINITY; }),
                   "presence_penalty");

    Sampler s{SamplingParams{}};
    expect_invalid([&] { s.sample(std::vector<float>{}); }, "empty");
    expect_invalid([&] { s.sample(std::vector<float>{0.0f, NAN}); }, "logit 1");
    expect_invalid([&] { s.sample(std::vector<float>{INFINITY, 0.0f}); }, "logit 0");
    expect_invalid([&] { s.sample(std::vector<float>{-INFINITY, -INFINITY}); }, "-inf");
    expect_invalid(
        [&] {
            s.sample(std::vector<float>{1.0f, 2.0f}, std::vector<uint32_t>{0, 2});
        },
        "recent token 2");
}

}  // namespace
}  // namespace moevk::runtime
