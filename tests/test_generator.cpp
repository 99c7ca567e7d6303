// The frame-budget machinery under the public API: PieceCosts' planning (no GPU), a forward step
// cut into slices of pieces giving eval()'s logits bit for bit however it is cut, and a
// Generator advanced a budget at a time giving the tokens of the same generation run whole,
// resident and paged.
#include <filesystem>

#include "experts/budget.h"
#include "generated_model.h"
#include "model/model_file.h"
#include "runtime/device_model.h"
#include "runtime/generator.h"
#include "runtime/piece_costs.h"
#include "runtime/session.h"
#include "runtime/step_runner.h"
#include "test_support.h"
#include "text/tokenizer.h"

namespace moevk {
namespace {

namespace fs = std::filesystem;

TEST(PieceCosts, AnUnknownPieceIsMeasuredAlone) {
    runtime::PieceCosts costs(4);
    runtime::PieceCosts::Plan p = costs.plan(0, 4, 1, 1e9);
    EXPECT_EQ(p.pieces, 1u);
    EXPECT_EQ(p.estimated_us, 0.0);
    costs.observe(0, 1, 100);
    p = costs.plan(0, 4, 1, 1e9);
    EXPECT_EQ(p.pieces, 1u) << "piece 1 is still unknown, so the slice stops before it";
    EXPECT_DOUBLE_EQ(p.estimated_us, 100);
}

TEST(PieceCosts, PlansAsManyPiecesAsTheBudgetHoldsAndAlwaysOne) {
    runtime::PieceCosts costs(4);
    for (uint32_t i = 0; i < 4; ++i) costs.observe(i, 1, 100.0 * (i + 1));  // 100 200 300 400
    EXPECT_EQ(costs.plan(0, 4, 1, 350).pieces, 2u);   // 100 + 200
    EXPECT_EQ(costs.plan(0, 4, 1, 1000).pieces, 4u);  // all of them: 1000
    EXPECT_EQ(costs.plan(1, 3, 1, 499).pieces, 1u);   // 200; + 300 would pass 499
    EXPECT_EQ(costs.plan(3, 1, 1, 1).pieces, 1u) << "a piece over the budget still runs alone";
    EXPECT_DOUBLE_EQ(costs.plan(0, 4, 1, 350).estimated_us, 300);
}

TEST(PieceCosts, BatchesCostPerTokenAndFollowChanges) {
    runtime::PieceCosts costs(2);
    costs.observe(0, 1, 50);    // a one-token step
    costs.observe(0, 16, 800);  // 50 per token in a batch
    EXPECT_DOUBLE_EQ(*costs.estimate(0, 1), 50);
    EXPECT_DOUBLE_EQ(*costs.estimate(0, 8), 400);
    EXPECT_FALSE(costs.estimate(1, 8).has_value());
    // The average moves towards new samples.
    for (int i = 0; i < 20; ++i) costs.observe(0, 1, 150);
    EXPECT_NEAR(*costs.estimate(0, 1), 150, 1.0);
    EXPECT_FALSE(costs.estimate(5, 1).has_value()) << "a piece past the step";
}

model::SyntheticSpec small_spec(uint32_t seed) {
    model::SyntheticSpec s;
    s.n_layers = 3;
    s.d_model = 128;
    s.n_heads = 4;
    s.n_kv_heads = 2;
    s.head_dim = 32;
    s.n_vocab = 64;
    s.d_ff = 128;
    s.attn_format = quant::WeightFormat::Q8_0;
    s.gate_up_format = quant::WeightFormat::Q8_0;
    s.down_format = quant::WeightFormat::Q8_0;
    s.seed = seed;
    return s;
}

class Slices : public test::GpuTest {};

// Runs `tokens` as one step through a StepRunner whose slices take `budget_us`.
std::vector<float> sliced_logits(gpu::Context& ctx, runtime::Session& session, std::span<const uint32_t> tokens,
                                 double budget_us, uint32_t& slices) {
    runtime::StepRunner runner(ctx, session);
    runner.begin(tokens);
    slices = 0;
    while (runner.active()) {
        runner.submit(budget_us);
        ++slices;
        runner.wait();
    }
    EXPECT_TRUE(runner.finished());
    std::span<const float> row = session.last_logits();
    return {row.begin(), row.end()};
}

TEST_F(Slices, AStepCutAnywhereGivesEvalsLogitsBitForBit) {
    test::GeneratedModel g = test::generate(small_spec(3));
    runtime::DeviceModel device(ctx(), *g.model);
    const uint32_t n_vocab = g.model->config().n_vocab;
    std::vector<uint32_t> prompt = test::some_tokens(5, n_vocab, 1);

    runtime::Session whole(ctx(), device, {.n_ctx = 64, .max_batch = 8});
    std::vector<float> expected_prompt = whole.eval(prompt, false);
    std::vector<uint32_t> next{7};
    std::vector<float> expected_next = whole.eval(next, false);

    // Budget 0: every piece in a slice of its own; unbounded: one slice, as eval() records it.
    for (double budget : {0.0, 1.0, runtime::kUnbounded}) {
        runtime::Session s(ctx(), device, {.n_ctx = 64, .max_batch = 8});
        uint32_t slices = 0;
        EXPECT_EQ(sliced_logits(ctx(), s, prompt, budget, slices), expected_prompt) << "budget " << budget;
        if (budget == 0.0) {
            EXPECT_EQ(slices, s.pieces());
        }
        if (budget == runtime::kUnbounded) {
            EXPECT_EQ(slices, 1u);
        }
        EXPECT_EQ(s.position(), prompt.size());
        EXPECT_EQ(sliced_logits(ctx(), s, next, budget, slices), expected_next) << "budget " << budget;
        EXPECT_EQ(s.position(), prompt.size() + 1);
    }
}

TEST_F(Slices, AnAbandonedStepLeavesThePositionAsItWas) {
    test::GeneratedModel g = test::generate(small_spec(4));
    runtime::DeviceModel device(ctx(), *g.model);
    runtime::Session s(ctx(), device, {.n_ctx = 64, .max_batch = 8});
    std::vector<uint32_t> prompt = test::some_tokens(3, g.model->config().n_vocab, 2);
    runtime::StepRunner runner(ctx(), s);
    runner.begin(prompt);
    runner.submit(0.0);  // one piece
    runner.abandon();
    EXPECT_FALSE(runner.active());
    EXPECT_EQ(s.position(), 0u);
    // The same session then runs the step whole and gives a fresh session's logits.
    std::vector<float> got = s.eval(prompt, false);
    runtime::Session fresh(ctx(), device, {.n_ctx = 64, .max_batch = 8});
    EXPECT_EQ(got, fresh.eval(prompt, false));
    EXPECT_THROW(runner.submit(1.0), Error) << "nothing begun";
}

class Budgeted : public test::GpuTest {};

// The tokens a generation gives, run whole or advanced with `budget_us` a call.
std::vector<uint32_t> generate_tokens(gpu::Context& ctx, const runtime::DeviceModel& device,
                                      const text::Tokenizer* tok, std::span<const uint32_t> prompt,
                                      std::optional<double> budget_us, runtime::SessionOptions so = {},
                                      uint32_t* calls = nullptr) {
    so.n_ctx = 128;
    so.max_batch = 4;  // prompts run as several steps
    runtime::Session session(ctx, device, so);
    runtime::SamplingParams sampling;
    sampling.seed = 11;
    runtime::Generator gen(ctx, session, tok, sampling);
    gen.feed(prompt);
    std::vector<uint32_t> out;
    runtime::GenerateOptions o;
    o.max_tokens = 12;
    o.ignore_eog = true;
    o.on_token = [&](std::optional<uint32_t> t, std::string_view) {
        if (t) out.push_back(*t);
        return true;
    };
    if (!budget_us) {
        runtime::GenerationResult r = gen.run(o);
        EXPECT_EQ(r.end, runtime::GenerationEnd::Length);
        EXPECT_EQ(r.generated_tokens, 12u);
        EXPECT_EQ(r.prompt_tokens, prompt.size());
    } else {
        gen.start(o);
        uint32_t n = 0;
        bool saw_in_flight = false;
        for (runtime::AdvanceReport a; !a.done;) {
            a = gen.advance(*budget_us);
            if (a.pieces) ++n;  // a slice submitted (other calls found work still in flight)
            saw_in_flight |= a.in_flight;
            if (gen.running()) {
                EXPECT_THROW(gen.feed(prompt), Error) << "input while a generation runs";
            }
        }
        EXPECT_EQ(gen.last_result().end, runtime::GenerationEnd::Length);
        if (!session.paged()) {
            EXPECT_TRUE(saw_in_flight);
        }
        if (calls) *calls = n;
    }
    // The last token is pending, the rest in the cache.
    EXPECT_EQ(gen.history().size() + gen.pending().size(), prompt.size() + out.size());
    EXPECT_EQ(gen.pending().size(), 1u);
    return out;
}

TEST_F(Budgeted, TheTokensAreTheUnbudgetedRunsAtAnyBudget) {
    test::GeneratedModel g = test::generate(small_spec(5));
    runtime::DeviceModel device(ctx(), *g.model);
    std::vector<uint32_t> prompt = test::some_tokens(9, g.model->config().n_vocab, 3);
    std::vector<uint32_t> whole = generate_tokens(ctx(), device, nullptr, prompt, std::nullopt);
    ASSERT_EQ(whole.size(), 12u);
    uint32_t calls_small = 0, calls_large = 0;
    EXPECT_EQ(generate_tokens(ctx(), device, nullptr, prompt, 0.0, {}, &calls_small), whole);
    EXPECT_EQ(generate_tokens(ctx(), device, nullptr, prompt, 1e9, {}, &calls_large), whole);
    EXPECT_GT(calls_small, calls_large) << "a small budget cuts the steps into more slices";
}

TEST_F(Budgeted, APagedSessionGivesTheResidentTokens) {
    test::GeneratedModel g = test::generate(small_spec(6));
    runtime::DeviceModel resident(ctx(), *g.model);
    runtime::DeviceModel paged(ctx(), *g.model, runtime::DeviceModelOptions{.page_experts = true});
    std::vector<uint32_t> prompt = test::some_tokens(6, g.model->config().n_vocab, 4);
    std::vector<uint32_t> whole = generate_tokens(ctx(), resident, nullptr, prompt, std::nullopt);
    runtime::SessionOptions so;
    so.vram_budget = experts::parse_vram_budget("50%");
    EXPECT_EQ(generate_tokens(ctx(), paged, nullptr, prompt, 500.0, so), whole);
    EXPECT_EQ(generate_tokens(ctx(), paged, nullptr, prompt, std::nullopt, so), whole);
}

TEST_F(Budgeted, StoppingMidwayKeepsTheTokensAndTheSessionGoesOn) {
    fs::path path = fs::path(MOEVK_ASSETS_DIR) / "moe-vk-demo.gguf";
    model::ModelFile file = model::ModelFile::open(path.string());
    text::Tokenizer tok = text::Tokenizer::from_file(file.file());
    runtime::DeviceModel device(ctx(), file);
    runtime::Session session(ctx(), device, {.n_ctx = 128});
    runtime::SamplingParams greedy;
    greedy.temperature = 0;
    runtime::Generator gen(ctx(), session, &tok, greedy);
    gen.feed(tok.encode("The licence", true, false));
    runtime::GenerateOptions o;
    o.max_tokens = 40;
    o.ignore_eog = true;
    gen.start(o);
    for (int i = 0; i < 12 && gen.running(); ++i) gen.advance(0.0);
    ASSERT_TRUE(gen.running());
    gen.stop();
    EXPECT_FALSE(gen.running());
    EXPECT_EQ(gen.last_result().end, runtime::GenerationEnd::Stopped);
    EXPECT_EQ(session.position(), gen.history().size()) << "the cache holds exactly the history";
    // Generating again continues from where it stopped.
    runtime::GenerationResult r = gen.run({.max_tokens = 3, .ignore_eog = true});
    EXPECT_EQ(r.generated_tokens, 3u);
    EXPECT_THROW(gen.advance(1.0), Error) << "nothing started";
}

}  // namespace
}  // namespace moevk
