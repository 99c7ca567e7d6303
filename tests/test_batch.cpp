// Continuous batching: a BatchStep's logits for one token of each of several sessions equal, bit
// for bit, what each session's own one-token step gives (every architecture family, KV formats,
// sessions at different positions, batches smaller than the scratch), its refusals, and
// generations advanced together giving the tokens each gives alone, including generations that
// join while others run and prompts that take several steps.
#include <memory>
#include <optional>
#include <string>

#include "generated_model.h"
#include "runtime/batch_step.h"
#include "runtime/batched_generation.h"
#include "runtime/device_model.h"
#include "runtime/generator.h"
#include "runtime/session.h"
#include "test_support.h"

namespace moevk {
namespace {

struct Family {
    std::string name;
    model::SyntheticSpec spec;
    runtime::KvFormat kv = runtime::KvFormat::F32;
};

model::SyntheticSpec base_spec(const std::string& arch, uint64_t seed) {
    model::SyntheticSpec s;
    s.architecture = arch;
    s.n_layers = 2;
    s.d_model = 128;
    s.n_heads = 4;
    s.n_kv_heads = 2;
    s.head_dim = 32;
    s.n_vocab = 96;
    s.d_ff = 96;  // not a multiple of the matvec's rows per workgroup
    s.seed = seed;
    return s;
}

void PrintTo(const Family& f, std::ostream* os) { *os << f.name; }

std::vector<Family> families() {
    std::vector<Family> f;
    model::SyntheticSpec mixtral = base_spec("llama", 21);
    mixtral.attn_format = mixtral.gate_up_format = mixtral.down_format = quant::WeightFormat::Q8_0;
    f.push_back({"mixtral_q8_0", mixtral});
    model::SyntheticSpec qwen2 = base_spec("qwen2moe", 22);  // shared expert, attention biases
    qwen2.d_ff_shared = 160;
    qwen2.attn_format = quant::WeightFormat::F16;
    qwen2.gate_up_format = quant::WeightFormat::Q4_0;
    f.push_back({"qwen2moe_shared_expert_f16_kv", qwen2, runtime::KvFormat::F16});
    model::SyntheticSpec qwen3 = base_spec("qwen3moe", 23);  // per-head Q/K norms
    qwen3.d_model = 256;
    qwen3.gate_up_format = qwen3.down_format = quant::WeightFormat::Q4_K;
    qwen3.d_ff = 256;
    f.push_back({"qwen3moe_q4_k", qwen3});
    model::SyntheticSpec olmoe = base_spec("olmoe", 24);  // whole-vector Q/K norms
    olmoe.n_experts = 1;
    olmoe.top_k = 1;
    f.push_back({"olmoe_one_expert", olmoe});
    return f;
}

runtime::SessionOptions session_options(runtime::KvFormat kv) {
    runtime::SessionOptions o;
    o.n_ctx = 64;
    o.max_batch = 8;
    o.kv_format = kv;
    o.record_experts = true;
    return o;
}

class Batched : public test::GpuTest, public ::testing::WithParamInterface<Family> {};

TEST_P(Batched, EachSessionsLogitsAreItsOwnOneTokenStepsBitForBit) {
    const Family& family = GetParam();
    test::GeneratedModel g = test::generate(family.spec);
    runtime::DeviceModel device(ctx(), *g.model);
    const uint32_t n_vocab = g.model->config().n_vocab;
    runtime::BatchStep batch(ctx(), device, 5);
    for (uint32_t sessions : {1u, 3u, 5u}) {
        SCOPED_TRACE(std::to_string(sessions) + " sessions");
        std::vector<std::unique_ptr<runtime::Session>> together, alone;
        std::vector<runtime::Session*> batch_sessions;
        for (uint32_t i = 0; i < sessions; ++i) {
            together.push_back(std::make_unique<runtime::Session>(ctx(), device, session_options(family.kv)));
            alone.push_back(std::make_unique<runtime::Session>(ctx(), device, session_options(family.kv)));
            batch_sessions.push_back(together.back().get());
            // Different positions; 11 tokens take two prompt steps of max_batch 8.
            std::vector<uint32_t> prompt = test::some_tokens(1 + (i * 5) % 12, n_vocab, 30 + i);
            together[i]->eval(prompt, false);
            alone[i]->eval(prompt, false);
        }
        for (uint32_t round = 0; round < 3; ++round) {
            std::vector<uint32_t> tokens;
            for (uint32_t i = 0; i < sessions; ++i) tokens.push_back((round * 31 + i * 17 + 5) % n_vocab);
            std::vector<std::vector<float>> before;
            for (auto& s : together) before.emplace_back(s->last_logits().begin(), s->last_logits().end());
            batch.run(batch_sessions, tokens);
            for (uint32_t i = 0; i < sessions; ++i) {
                std::vector<float> expected = alone[i]->eval(std::span(tokens).subspan(i, 1), false);
                std::vector<float> got(together[i]->last_logits().begin(), together[i]->last_logits().end());
                ASSERT_EQ(got.size(), size_t(n_vocab));
                EXPECT_NE(got, before[i]) << "session " << i << ": the step wrote its logits";
                EXPECT_EQ(got, expected) << "session " << i << " round " << round;
                EXPECT_EQ(together[i]->position(), alone[i]->position());
                EXPECT_EQ(together[i]->selected_experts(), alone[i]->selected_experts()) << "session " << i;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Families, Batched, ::testing::ValuesIn(families()),
                         [](const auto& info) { return info.param.name; });

class BatchChecks : public test::GpuTest {};

ErrorCode code_of(const std::function<void()>& f, std::string& message) {
    try {
        f();
    } catch (const Error& e) {
        message = e.what();
        return e.code();
    }
    ADD_FAILURE() << "no error";
    return ErrorCode::Vulkan;
}

TEST_F(BatchChecks, RefusesWhatItCannotRunAndChangesNothing) {
    test::GeneratedModel g = test::generate(base_spec("llama", 25));
    runtime::DeviceModel device(ctx(), *g.model);
    runtime::DeviceModel other(ctx(), *g.model);
    runtime::DeviceModel paged(ctx(), *g.model, runtime::DeviceModelOptions{.page_experts = true});
    std::string m;
    EXPECT_EQ(code_of([&] { runtime::BatchStep(ctx(), device, 0); }, m), ErrorCode::InvalidArgument);
    EXPECT_NE(m.find("max_sessions"), std::string::npos) << m;

    runtime::BatchStep batch(ctx(), device, 2);
    runtime::Session a(ctx(), device, session_options(runtime::KvFormat::F32));
    runtime::Session b(ctx(), device, {.n_ctx = 2, .max_batch = 2});
    runtime::Session elsewhere(ctx(), other, session_options(runtime::KvFormat::F32));
    runtime::Session pages(ctx(), paged, session_options(runtime::KvFormat::F32));
    EXPECT_TRUE(batch.refusal(a).empty());
    EXPECT_NE(batch.refusal(elsewhere).find("another model"), std::string::npos);
    runtime::BatchStep paged_batch(ctx(), paged, 2);
    EXPECT_NE(paged_batch.refusal(pages).find("paged"), std::string::npos);

    std::vector<runtime::Session*> two{&a, &b};
    std::vector<uint32_t> tok2{1, 2};
    std::vector<runtime::Session*> same{&a, &a};
    EXPECT_EQ(code_of([&] { batch.run(same, tok2); }, m), ErrorCode::InvalidArgument);
    EXPECT_NE(m.find("session 1: the same session as session 0"), std::string::npos) << m;
    std::vector<runtime::Session*> mixed{&a, &elsewhere};
    EXPECT_EQ(code_of([&] { batch.run(mixed, tok2); }, m), ErrorCode::InvalidArgument);
    EXPECT_NE(m.find("session 1"), std::string::npos) << m;
    std::vector<uint32_t> one{1};
    EXPECT_EQ(code_of([&] { batch.run(two, one); }, m), ErrorCode::InvalidArgument);
    std::vector<runtime::Session*> three{&a, &b, &elsewhere};
    std::vector<uint32_t> tok3{1, 2, 3};
    EXPECT_EQ(code_of([&] { batch.run(three, tok3); }, m), ErrorCode::InvalidArgument);
    EXPECT_NE(m.find("1..2"), std::string::npos) << m;
    std::vector<uint32_t> outside{1, 96 * 1000};
    EXPECT_EQ(code_of([&] { batch.run(two, outside); }, m), ErrorCode::InvalidArgument);
    EXPECT_NE(m.find("session 1"), std::string::npos) << m;

    // b's context holds two tokens: the third step is refused, and neither session moves.
    batch.run(two, tok2);
    batch.run(two, tok2);
    EXPECT_EQ(code_of([&] { batch.run(two, tok2); }, m), ErrorCode::ContextFull);
    EXPECT_NE(m.find("session 1"), std::string::npos) << m;
    EXPECT_EQ(a.position(), 2u);
    EXPECT_EQ(b.position(), 2u);
}

// A generation's tokens, and the whole of its text, as one of several advanced together or alone.
struct Planned {
    std::vector<uint32_t> prompt;
    uint32_t max_tokens;
    uint64_t seed;
    uint32_t joins_at;  // the call of advance_together that starts it
};

struct Gen {
    Gen(gpu::Context& ctx, const runtime::DeviceModel& device, const Planned& r)
        : session(ctx, device, {.n_ctx = 64, .max_batch = 4, .record_experts = true}),
          gen(ctx, session, nullptr, sampling(r.seed)) {
        gen.feed(r.prompt);
    }
    static runtime::SamplingParams sampling(uint64_t seed) {
        runtime::SamplingParams p;
        p.temperature = 0.9f;
        p.seed = seed;
        return p;
    }
    runtime::GenerateOptions options(uint32_t max_tokens) {
        runtime::GenerateOptions o;
        o.max_tokens = max_tokens;
        o.on_token = [this](std::optional<uint32_t> t, std::string_view) {
            if (t) tokens.push_back(*t);
            return true;
        };
        return o;
    }
    runtime::Session session;
    runtime::Generator gen;
    std::vector<uint32_t> tokens;
};

TEST_F(BatchChecks, GenerationsAdvancedTogetherGiveTheirOwnTokens) {
    test::GeneratedModel g = test::generate(base_spec("qwen3moe", 26));
    runtime::DeviceModel device(ctx(), *g.model);
    const uint32_t n_vocab = g.model->config().n_vocab;
    const std::vector<Planned> runs = {
        {test::some_tokens(3, n_vocab, 1), 9, 101, 0},
        {test::some_tokens(10, n_vocab, 2), 7, 102, 0},  // three prompt steps of 4
        {test::some_tokens(1, n_vocab, 3), 12, 103, 2},  // joins while the others generate
        {test::some_tokens(5, n_vocab, 4), 0, 104, 1},   // only evaluates its prompt
        {test::some_tokens(6, n_vocab, 5), 1, 105, 4},
    };
    std::vector<std::vector<uint32_t>> alone;
    for (const Planned& r : runs) {
        Gen one(ctx(), device, r);
        one.gen.run(one.options(r.max_tokens));
        EXPECT_EQ(one.tokens.size(), r.max_tokens);
        alone.push_back(one.tokens);
    }

    runtime::BatchStep batch(ctx(), device, 4);  // fewer than the generations: the rest step alone
    std::vector<std::unique_ptr<Gen>> gens;
    for (const Planned& r : runs) gens.push_back(std::make_unique<Gen>(ctx(), device, r));
    std::vector<runtime::Generator*> all;
    for (auto& g : gens) all.push_back(&g->gen);
    std::vector<runtime::AdvanceReport> reports(all.size());
    uint32_t calls = 0;
    for (bool any = true; any; ++calls) {
        ASSERT_LT(calls, 100u);
        for (size_t i = 0; i < runs.size(); ++i)
            if (runs[i].joins_at == calls) gens[i]->gen.start(gens[i]->options(runs[i].max_tokens));
        runtime::advance_together(batch, all, reports);
        any = calls < 4;
        for (size_t i = 0; i < runs.size(); ++i) {
            if (!gens[i]->gen.running()) {
                EXPECT_TRUE(reports[i].done) << "generation " << i;
            }
            any |= gens[i]->gen.running();
        }
    }
    for (size_t i = 0; i < runs.size(); ++i) {
        EXPECT_EQ(gens[i]->tokens, alone[i]) << "generation " << i;
        EXPECT_EQ(gens[i]->gen.last_result().end, runtime::GenerationEnd::Length);
        EXPECT_EQ(gens[i]->gen.last_result().generated_tokens, runs[i].max_tokens);
    }
    // The longest takes one call per token after its prompt, whoever else runs.
    EXPECT_LE(calls, 2u + 12u + 2u);

    std::vector<runtime::Generator*> twice{&gens[0]->gen, &gens[0]->gen};
    std::vector<runtime::AdvanceReport> two(2);
    EXPECT_THROW(runtime::advance_together(batch, twice, two), Error);
}

}  // namespace
}  // namespace moevk
