// Parity on the fixture models (real GGUF layouts, F16 / Q8_0 / Q4_K_M) against two references:
// an exact float64 forward pass on the same dequantised weights (held tight), and llama.cpp (a
// cross-check: it rounds activations to f16 or 8 bits, so it sits further from the exact result).
// The measured figures are printed per file so drift shows before it fails.
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "model/model_file.h"
#include "runtime/device_model.h"
#include "runtime/reference_model.h"
#include "runtime/session.h"
#include "test_support.h"

namespace moevk {
namespace {

namespace fs = std::filesystem;
const fs::path kModels = fs::path(MOEVK_FIXTURES_DIR) / "models";

struct Reference {
    std::vector<uint32_t> tokens;
    std::vector<uint32_t> greedy;        // llama.cpp's greedy continuation (not in the exact files)
    std::vector<double> greedy_margins;  // its best-minus-second logit at each step
    std::vector<std::vector<double>> logits;                     // [position][n_vocab]
    std::vector<std::vector<std::set<uint32_t>>> experts;         // [layer][token]
};

Reference load_reference(const fs::path& path) {
    std::ifstream in(path);
    nlohmann::json j = nlohmann::json::parse(in);
    Reference r;
    r.tokens = j.at("prompt_tokens").get<std::vector<uint32_t>>();
    r.logits = j.at("prompt_logits").get<std::vector<std::vector<double>>>();
    if (j.contains("greedy_tokens")) {
        r.greedy = j.at("greedy_tokens").get<std::vector<uint32_t>>();
        r.greedy_margins = j.at("greedy_margins").get<std::vector<double>>();
    }
    const auto& experts = j.at("experts");
    for (size_t l = 0;; ++l) {
        auto it = experts.find("ffn_moe_topk-" + std::to_string(l));
        if (it == experts.end()) break;
        std::vector<std::set<uint32_t>> per_token;
        for (const auto& ids : *it) per_token.emplace_back(ids.begin(), ids.end());
        r.experts.push_back(std::move(per_token));
    }
    return r;
}

std::vector<double> log_softmax(std::span<const double> x) {
    double m = *std::max_element(x.begin(), x.end()), s = 0;
    for (double v : x) s += std::exp(v - m);
    std::vector<double> out(x.size());
    for (size_t i = 0; i < x.size(); ++i) out[i] = x[i] - m - std::log(s);
    return out;
}

struct Agreement {
    double mean_kl = 0;          // KL(reference || ours), mean over positions
    double top1 = 1;             // over positions whose reference margin >= the given margin
    size_t top1_positions = 0;
    double experts = 1;          // (layer, token) pairs with the same expert set
};

Agreement compare(const Reference& ref, const std::vector<float>& logits, uint32_t n_vocab,
                  const std::vector<std::vector<uint32_t>>& ours_experts, uint32_t top_k, double margin) {
    Agreement a;
    size_t T = ref.logits.size(), same_top1 = 0;
    for (size_t t = 0; t < T; ++t) {
        std::vector<double> ours(logits.begin() + t * n_vocab, logits.begin() + (t + 1) * n_vocab);
        std::vector<double> lp = log_softmax(ref.logits[t]), lq = log_softmax(ours);
        double kl = 0;
        for (size_t i = 0; i < n_vocab; ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
        a.mean_kl += kl / T;
        std::vector<double> sorted = ref.logits[t];
        std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
        if (sorted[0] - sorted[1] >= margin) {
            ++a.top1_positions;
            auto best = [](const std::vector<double>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
            same_top1 += best(ref.logits[t]) == best(ours);
        }
    }
    if (a.top1_positions) a.top1 = double(same_top1) / a.top1_positions;
    size_t pairs = 0, same = 0;
    for (size_t l = 0; l < ref.experts.size(); ++l)
        for (size_t t = 0; t < ref.experts[l].size(); ++t) {
            auto first = ours_experts[l].begin() + t * top_k;
            same += std::set<uint32_t>(first, first + top_k) == ref.experts[l][t];
            ++pairs;
        }
    a.experts = pairs ? double(same) / pairs : 1;
    return a;
}

// Generates greedily one token at a time (the matrix-vector path over the KV cache) from the
// prompt's last logits, checking each token against llama.cpp's continuation until its first
// step with a margin under `near_tie` (after which either choice is right). Returns the steps
// checked.
size_t follow_greedy(runtime::Session& session, const Reference& llama, const std::vector<float>& logits,
                     uint32_t n_vocab, double near_tie) {
    size_t clear_steps = 0;
    while (clear_steps < llama.greedy.size() && llama.greedy_margins[clear_steps] >= near_tie) ++clear_steps;
    std::vector<float> row(logits.end() - n_vocab, logits.end());
    for (size_t i = 0; i < clear_steps; ++i) {
        uint32_t next = static_cast<uint32_t>(std::max_element(row.begin(), row.end()) - row.begin());
        if (next != llama.greedy[i]) {
            ADD_FAILURE() << "greedy step " << i << ": " << next << ", llama.cpp " << llama.greedy[i]
                          << " (its margin " << llama.greedy_margins[i] << ")";
            return i;
        }
        row = session.eval(std::span<const uint32_t>(&next, 1), false);
    }
    std::printf("  greedy: %zu of %zu generated tokens checked and equal to llama.cpp's (%s)\n", clear_steps,
                llama.greedy.size(), clear_steps < llama.greedy.size() ? "then a near-tie" : "no near-tie");
    return clear_steps;
}

struct Fixture {
    std::string model;  // file stem
    std::string prompt;  // p1, p2
};

void PrintTo(const Fixture& f, std::ostream* os) { *os << f.model << " " << f.prompt; }

class FixtureParity : public test::GpuTest, public ::testing::WithParamInterface<Fixture> {};

TEST_P(FixtureParity, MatchesTheExactReferenceAndLlamaCpp) {
    if (!fs::exists(kModels)) GTEST_SKIP() << "no fixtures at " << kModels;
    const Fixture& f = GetParam();
    fs::path gguf = kModels / (f.model + ".gguf");
    Reference exact = load_reference(kModels / (f.model + "." + f.prompt + ".exact.json"));
    Reference llama = load_reference(kModels / (f.model + "." + f.prompt + ".json"));
    ASSERT_EQ(exact.tokens, llama.tokens);

    model::ModelFile model = model::ModelFile::open(gguf.string());
    const uint32_t n_vocab = model.config().n_vocab, top_k = model.config().moe.top_k;
    ASSERT_EQ(exact.logits.size(), exact.tokens.size());
    ASSERT_EQ(exact.logits[0].size(), n_vocab);
    ASSERT_EQ(exact.experts.size(), model.config().n_layers);

    runtime::DeviceModel device(ctx(), model);
    runtime::Session session(ctx(), device, {.n_ctx = 320, .max_batch = 128, .record_experts = true});
    std::vector<float> logits = session.eval(exact.tokens);
    ASSERT_EQ(logits.size(), exact.tokens.size() * n_vocab);

    Agreement e = compare(exact, logits, n_vocab, session.selected_experts(), top_k, 0.05);
    Agreement l = compare(llama, logits, n_vocab, session.selected_experts(), top_k, 0.5);
    std::printf("%s %s (%zu tokens): vs exact: KL %.2e, top-1 %.3f of %zu, experts %.3f | "
                "vs llama.cpp: KL %.2e, top-1 %.3f of %zu, experts %.3f\n",
                f.model.c_str(), f.prompt.c_str(), exact.tokens.size(), e.mean_kl, e.top1, e.top1_positions,
                e.experts, l.mean_kl, l.top1, l.top1_positions, l.experts);
    EXPECT_LE(e.mean_kl, 1e-3);
    EXPECT_EQ(e.top1, 1.0);
    EXPECT_GE(e.experts, 0.99);
    EXPECT_LE(l.mean_kl, 3e-2);
    EXPECT_GE(l.top1, 0.95);
    EXPECT_GE(l.experts, 0.90);

    // Generation one token at a time (the matrix-vector path over the KV cache) follows
    // llama.cpp's greedy continuation up to its first near-tie, after which either is right.
    // Only on the F16 files, where llama.cpp agrees with the exact pass to a KL of ~1e-6: on the
    // quantised ones its 8-bit activations flip experts (see the agreement above) and with them
    // tokens of large margin.
    if (f.model.find("-f16") == std::string::npos) return;
    follow_greedy(session, llama, logits, n_vocab, 0.1);
}

std::vector<Fixture> fixtures() {
    std::vector<Fixture> all;
    for (const char* m : {"mixtral-tiny", "qwen3moe-tiny"})
        for (const char* q : {"f16", "q8_0", "q4_k_m"})
            for (const char* p : {"p1", "p2"}) all.push_back({std::string(m) + "-" + q, p});
    return all;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureParity, ::testing::ValuesIn(fixtures()),
                         [](const ::testing::TestParamInfo<Fixture>& info) {
                             std::string name = info.param.model + "_" + info.param.prompt;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

// The fixtures scripts/reference/ made with llama.cpp for architectures the shared fixtures lack
// (tests/fixtures/<arch>/: <stem>.gguf with <stem>.p1.json, <stem>.p2.json). The exact
// reference here is the project's own float64 forward pass (runtime::ref::forward) on the same
// file, which shares no kernel code with the GPU pass.
const fs::path kProjectFixtures = fs::path(MOEVK_PROJECT_FIXTURES_DIR);

std::vector<Fixture> project_fixtures() {
    std::vector<Fixture> all;
    if (!fs::exists(kProjectFixtures)) return all;
    for (const auto& dir : fs::directory_iterator(kProjectFixtures)) {
        if (!dir.is_directory()) continue;
        for (const auto& f : fs::directory_iterator(dir.path()))
            if (f.path().extension() == ".gguf")
                for (const char* p : {"p1", "p2"})
                    if (fs::exists(fs::path(f.path()).replace_extension(std::string(".") + p + ".json")))
                        all.push_back({(dir.path().filename() / f.path().stem()).string(), p});
    }
    std::sort(all.begin(), all.end(), [](const Fixture& a, const Fixture& b) {
        return std::tie(a.model, a.prompt) < std::tie(b.model, b.prompt);
    });
    return all;
}

class ProjectFixtureParity : public test::GpuTest, public ::testing::WithParamInterface<Fixture> {};

TEST_P(ProjectFixtureParity, MatchesOurFloat64PassAndLlamaCpp) {
    const Fixture& f = GetParam();
    const fs::path stem = kProjectFixtures / f.model;
    Reference llama = load_reference(fs::path(stem).concat("." + f.prompt + ".json"));
    model::ModelFile model = model::ModelFile::open(fs::path(stem).concat(".gguf").string());
    const uint32_t n_vocab = model.config().n_vocab, top_k = model.config().moe.top_k;
    ASSERT_EQ(llama.logits.size(), llama.tokens.size());
    ASSERT_EQ(llama.logits[0].size(), n_vocab);
    ASSERT_EQ(llama.experts.size(), model.config().n_layers);

    runtime::ref::ForwardResult ref = runtime::ref::forward(model, llama.tokens);
    Reference exact;
    exact.tokens = llama.tokens;
    for (size_t t = 0; t < llama.tokens.size(); ++t)
        exact.logits.emplace_back(ref.logits.begin() + t * n_vocab, ref.logits.begin() + (t + 1) * n_vocab);
    for (const auto& layer : ref.experts) {
        std::vector<std::set<uint32_t>> per_token;
        for (size_t t = 0; t < llama.tokens.size(); ++t)
            per_token.emplace_back(layer.begin() + t * top_k, layer.begin() + (t + 1) * top_k);
        exact.experts.push_back(std::move(per_token));
    }

    runtime::DeviceModel device(ctx(), model);
    runtime::Session session(ctx(), device, {.n_ctx = 128, .max_batch = 64, .record_experts = true});
    std::vector<float> logits = session.eval(llama.tokens);
    ASSERT_EQ(logits.size(), llama.tokens.size() * n_vocab);

    Agreement e = compare(exact, logits, n_vocab, session.selected_experts(), top_k, 0.05);
    Agreement l = compare(llama, logits, n_vocab, session.selected_experts(), top_k, 0.5);
    // llama.cpp against the float64 pass, with no engine of ours in between.
    std::vector<float> ref_logits(ref.logits.begin(), ref.logits.end());
    Agreement lr = compare(llama, ref_logits, n_vocab, ref.experts, top_k, 0.5);
    std::printf("%s %s (%zu tokens): vs float64: KL %.2e, top-1 %.3f of %zu, experts %.3f | "
                "vs llama.cpp: KL %.2e, top-1 %.3f of %zu, experts %.3f | float64 vs llama.cpp: KL %.2e\n",
                f.model.c_str(), f.prompt.c_str(), llama.tokens.size(), e.mean_kl, e.top1, e.top1_positions,
                e.experts, l.mean_kl, l.top1, l.top1_positions, l.experts, lr.mean_kl);
    EXPECT_LE(e.mean_kl, 1e-6);
    EXPECT_EQ(e.top1, 1.0);
    EXPECT_EQ(e.experts, 1.0);
    // The pipeline's own float64 pass (scripts/reference/exact.py, an independent implementation
    // in Python), where it wrote one.
    const fs::path exact_py = fs::path(stem).concat("." + f.prompt + ".exact.json");
    if (fs::exists(exact_py)) {
        Reference py = load_reference(exact_py);
        ASSERT_EQ(py.tokens, llama.tokens);
        Agreement x = compare(py, logits, n_vocab, session.selected_experts(), top_k, 0.05);
        std::printf("  vs exact.py: KL %.2e, top-1 %.3f, experts %.3f\n", x.mean_kl, x.top1, x.experts);
        EXPECT_LE(x.mean_kl, 1e-6);
        EXPECT_EQ(x.experts, 1.0);
    }
    EXPECT_LE(l.mean_kl, 1e-2);
    EXPECT_EQ(l.top1, 1.0);
    EXPECT_GE(l.experts, 0.95);

    // Greedy generation one token at a time follows llama.cpp's up to its first near-tie: a margin
    // under 0.1 on the F16 files (llama.cpp's logits there are within ~2e-2 of the exact ones),
    // under 0.5 on the quantised ones (its 8-bit activations move logits by up to ~0.5).
    const double near_tie = f.model.find("-f16") != std::string::npos ? 0.1 : 0.5;
    EXPECT_GE(follow_greedy(session, llama, logits, n_vocab, near_tie), 4u)
        << "the fixture's greedy continuation has near-ties from the start";
}

INSTANTIATE_TEST_SUITE_P(Committed, ProjectFixtureParity, ::testing::ValuesIn(project_fixtures()),
                         [](const ::testing::TestParamInfo<Fixture>& info) {
                             std::string name = info.param.model + "_" + info.param.prompt;
                             for (char& c : name)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return name;
                         });

// The committed fixtures exist: a checkout without them must not pass by running nothing.
TEST(ProjectFixtures, AreThere) { EXPECT_GE(project_fixtures().size(), 4u) << kProjectFixtures; }

}  // namespace
}  // namespace moevk
