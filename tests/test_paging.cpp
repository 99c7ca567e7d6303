// Expert paging on the GPU. The invariant: the logits of a run whose experts are paged through a
// budget of 75%, 50%, 25% of the experts or the minimum are the all-resident run's, bit for bit,
// with each policy and prefetch on and off, for prompt batches (expert groups) and generation,
// on generated models and the fixture models. Also: budgets refused with the minimum, slots a
// queued dispatch still reads are not overwritten, and a failed upload leaves the engine usable.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "experts/budget.h"
#include "experts/expert_cache.h"
#include "experts/oracle.h"
#include "gguf/gguf.h"
#include "gpu/error.h"
#include "model/model_file.h"
#include "model/synthetic.h"
#include "moe/layer.h"
#include "runtime/device_model.h"
#include "runtime/session.h"
#include "generated_model.h"
#include "test_support.h"

namespace moevk {
namespace {

namespace fs = std::filesystem;
using experts::CachePolicy;
using experts::parse_vram_budget;

using test::generate;
using test::GeneratedModel;
using test::some_tokens;

struct Logits {
    std::vector<float> prompt;     // logits of every prompt position
    std::vector<float> generated;  // one row per generated step
    experts::PagingStats stats;
    bool paged = false;
};

// A prompt, then one token at a time: the grouped GEMM, then the matrix-vector path.
Logits run(gpu::Context& ctx, const runtime::DeviceModel& model, const runtime::SessionOptions& options,
        const std::vector<uint32_t>& prompt, const std::vector<uint32_t>& generate) {
    runtime::Session s(ctx, model, options);
    Logits r;
    r.paged = s.paged();
    r.prompt = s.eval(prompt);
    for (uint32_t t : generate) {
        std::vector<float> row = s.eval(std::span<const uint32_t>(&t, 1));
        r.generated.insert(r.generated.end(), row.begin(), row.end());
    }
    r.stats = s.paging_stats();
    return r;
}

::testing::AssertionResult identical(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes " << a.size() << " and " << b.size();
    for (size_t i = 0; i < a.size(); ++i)
        if (std::memcmp(&a[i], &b[i], 4) != 0)
            return ::testing::AssertionFailure() << "first difference at " << i << ": " << a[i] << " vs " << b[i];
    return ::testing::AssertionSuccess();
}

// Every budget, policy and prefetch setting against the all-resident run of the same file.
void expect_invariant(gpu::Context& ctx, const model::ModelFile& file, const std::vector<uint32_t>& prompt,
                      const std::vector<uint32_t>& gen, uint32_t max_batch, const std::vector<std::string>& budgets) {
    const model::ModelConfig& c = file.config();
    runtime::SessionOptions base;
    base.n_ctx = static_cast<uint32_t>(prompt.size() + gen.size() + 1);
    base.max_batch = max_batch;
    Logits resident;
    {
        runtime::DeviceModel all(ctx, file);
        resident = run(ctx, all, base, prompt, gen);
    }
    ASSERT_FALSE(resident.paged);
    runtime::DeviceModel paged(ctx, file, runtime::DeviceModelOptions{.page_experts = true});
    for (const std::string& budget : budgets)
        for (CachePolicy policy : {CachePolicy::Lru, CachePolicy::Lfu})
            for (bool prefetch : {true, false}) {
                SCOPED_TRACE(budget + " " + experts::policy_name(policy) + (prefetch ? " prefetch" : " no prefetch"));
                runtime::SessionOptions o = base;
                o.vram_budget = parse_vram_budget(budget);
                o.cache_policy = policy;
                o.prefetch = prefetch;
                Logits r = run(ctx, paged, o, prompt, gen);
                EXPECT_TRUE(r.paged);
                EXPECT_TRUE(identical(r.prompt, resident.prompt));
                EXPECT_TRUE(identical(r.generated, resident.generated));
                experts::LayerStats t = r.stats.total();
                EXPECT_GT(t.misses, 0u);
                EXPECT_EQ(t.uploads, t.misses + t.prefetched);
                uint64_t routed = 0;
                for (uint64_t n : t.expert_tokens) routed += n;
                EXPECT_EQ(routed, (prompt.size() + gen.size()) * c.moe.top_k * c.n_layers);
                if (!prefetch) {
                    EXPECT_EQ(t.prefetched, 0u);
                }
            }
}

// Small shapes keep the suite quick on a CPU device; K-quant rows need d_model and d_ff of 256.
model::SyntheticSpec spec(const char* arch, uint32_t n_experts, uint32_t top_k, quant::WeightFormat gate_up,
                          quant::WeightFormat down, uint32_t seed) {
    bool k_quant = gate_up == quant::WeightFormat::Q4_K || down == quant::WeightFormat::Q6_K;
    model::SyntheticSpec s;
    s.architecture = arch;
    s.n_layers = 3;
    s.d_model = k_quant ? 256 : 128;
    s.n_heads = 4;
    s.n_kv_heads = 2;
    s.head_dim = 32;
    s.n_vocab = 64;
    s.n_experts = n_experts;
    s.top_k = top_k;
    s.d_ff = k_quant ? 256 : 128;
    s.d_ff_shared = 64;
    s.attn_format = quant::WeightFormat::Q8_0;
    s.gate_up_format = gate_up;
    s.down_format = down;
    s.seed = seed;
    return s;
}

struct Case {
    const char* name;
    model::SyntheticSpec spec;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class PagingInvariant : public test::GpuTest, public ::testing::WithParamInterface<Case> {};

TEST_P(PagingInvariant, LogitsAreTheResidentRunsAtEveryBudget) {
    GeneratedModel g = generate(GetParam().spec);
    const uint32_t n_vocab = g.model->config().n_vocab;
    expect_invariant(ctx(), *g.model, some_tokens(9, n_vocab, 3), some_tokens(3, n_vocab, 5), 16,
                     {"75%", "50%", "25%", "min"});
}

INSTANTIATE_TEST_SUITE_P(
    Generated, PagingInvariant,
    ::testing::Values(
        Case{"llama_8x2_q4k_q6k", spec("llama", 8, 2, quant::WeightFormat::Q4_K, quant::WeightFormat::Q6_K, 11)},
        Case{"qwen3moe_16x4_q8_0", spec("qwen3moe", 16, 4, quant::WeightFormat::Q8_0, quant::WeightFormat::Q8_0, 12)},
        Case{"qwen2moe_shared_f16", spec("qwen2moe", 8, 2, quant::WeightFormat::F16, quant::WeightFormat::F16, 13)},
        // Expert biases stay resident while the experts page; sliding layers, sinks, YaRN.
        Case{"gpt_oss_8x4_f16", spec("gpt-oss", 8, 4, quant::WeightFormat::F16, quant::WeightFormat::F16, 14)}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

class Paging : public test::GpuTest {};

TEST_F(Paging, FixtureModelsKeepTheirLogits) {
    const fs::path dir = fs::path(MOEVK_FIXTURES_DIR) / "models";
    // Every budget, policy and prefetch setting on one file; the smallest budget on another
    // architecture (16 experts, top-4) in another format. Each prompt step needs more experts
    // than the smallest budgets hold at once.
    struct File {
        const char* stem;
        std::vector<std::string> budgets;
        uint32_t prompt, max_batch;
    };
    const File files[] = {
        {"mixtral-tiny-q4_k_m", {"75%", "50%", "25%", "min"}, 8, 8},
        {"qwen3moe-tiny-q8_0", {"min"}, 12, 6},  // two prompt steps
    };
    int found = 0;
    for (const File& f : files) {
        fs::path path = dir / (std::string(f.stem) + ".gguf");
        if (!fs::exists(path)) continue;
        ++found;
        SCOPED_TRACE(f.stem);
        model::ModelFile file = model::ModelFile::open(path.string());
        const uint32_t n_vocab = file.config().n_vocab;
        expect_invariant(ctx(), file, some_tokens(f.prompt, n_vocab, 7), some_tokens(2, n_vocab, 9), f.max_batch,
                         f.budgets);
    }
    if (!found) GTEST_SKIP() << "no fixture models in " << dir;
}

// The committed gpt-oss fixture (MXFP4 experts with their biases, made by llama-quantize): paged
// at every budget the logits are the resident run's.
TEST_F(Paging, GptOssFixtureKeepsItsLogits) {
    const fs::path path = fs::path(MOEVK_PROJECT_FIXTURES_DIR) / "gpt-oss" / "gpt-oss-tiny-mxfp4.gguf";
    ASSERT_TRUE(fs::exists(path)) << path;
    model::ModelFile file = model::ModelFile::open(path.string());
    const uint32_t n_vocab = file.config().n_vocab;
    expect_invariant(ctx(), file, some_tokens(12, n_vocab, 7), some_tokens(2, n_vocab, 9), 6,
                     {"75%", "50%", "min"});
}

// The older Mixtral layout, one tensor per expert, written to disk: resident and paged through
// budgets too small for all experts, the logits are the merged-layout file's, bit for bit.
TEST_F(Paging, OneTensorPerExpertFilesGiveTheMergedFilesLogits) {
    model::SyntheticSpec s = spec("llama", 8, 2, quant::WeightFormat::Q4_K, quant::WeightFormat::Q6_K, 31);
    test::TempFile merged_file("paging-merged.gguf", model::synthetic_model(s).bytes());
    s.split_experts = true;
    test::TempFile split_file("paging-split.gguf", model::synthetic_model(s).bytes());
    model::ModelFile merged = model::ModelFile::open(merged_file.path());
    model::ModelFile split = model::ModelFile::open(split_file.path());
    const uint32_t n_vocab = merged.config().n_vocab;
    std::vector<uint32_t> prompt = some_tokens(9, n_vocab, 3), gen = some_tokens(3, n_vocab, 5);
    runtime::SessionOptions o{.n_ctx = 16, .max_batch = 16};
    Logits reference;
    {
        runtime::DeviceModel all(ctx(), merged);
        reference = run(ctx(), all, o, prompt, gen);
    }
    {
        runtime::DeviceModel all(ctx(), split);
        Logits r = run(ctx(), all, o, prompt, gen);
        EXPECT_TRUE(identical(r.prompt, reference.prompt));
        EXPECT_TRUE(identical(r.generated, reference.generated));
    }
    runtime::DeviceModel paged(ctx(), split, runtime::DeviceModelOptions{.page_experts = true});
    for (const char* budget : {"25%", "min"}) {
        SCOPED_TRACE(budget);
        o.vram_budget = parse_vram_budget(budget);
        Logits r = run(ctx(), paged, o, prompt, gen);
        EXPECT_TRUE(r.paged);
        EXPECT_GT(r.stats.total().misses, 0u);
        EXPECT_TRUE(identical(r.prompt, reference.prompt));
        EXPECT_TRUE(identical(r.generated, reference.generated));
    }
}

// A model file truncated while a paged session reads experts from it: the uploads read with
// pread(), so the next one fails with an error naming the file instead of a SIGBUS from the
// mapping killing the process.
TEST_F(Paging, AFileTruncatedWhilePagingIsAnErrorNotACrash) {
    model::SyntheticSpec s = spec("llama", 8, 2, quant::WeightFormat::Q8_0, quant::WeightFormat::Q8_0, 23);
    test::TempFile f("paging-truncated.gguf", model::synthetic_model(s).bytes());
    model::ModelFile file = model::ModelFile::open(f.path());
    runtime::DeviceModel paged(ctx(), file, runtime::DeviceModelOptions{.page_experts = true});
    runtime::Session session(ctx(), paged, {.n_ctx = 16, .max_batch = 8, .vram_budget = parse_vram_budget("min")});
    ASSERT_TRUE(session.paged());
    const uint32_t n_vocab = file.config().n_vocab;
    session.eval(some_tokens(4, n_vocab, 1));
    ASSERT_EQ(::truncate(f.path().c_str(), off_t(file.file().data_offset())), 0) << std::strerror(errno);
    std::vector<uint32_t> gen = some_tokens(4, n_vocab, 2);
    test::expect_error(
        [&] {
            for (uint32_t t : gen) session.eval(std::span<const uint32_t>(&t, 1));
        },
        ErrorCode::BadFile, {f.path(), "truncated"});
    EXPECT_EQ(session.position(), 4u);
}

TEST_F(Paging, SlotPlansAndBudgetsTooSmall) {
    GeneratedModel g = generate(spec("llama", 8, 2, quant::WeightFormat::Q8_0, quant::WeightFormat::Q8_0, 21));
    runtime::DeviceModel paged(ctx(), *g.model, runtime::DeviceModelOptions{.page_experts = true});
    runtime::SessionOptions o{.n_ctx = 16, .max_batch = 8};
    {
        runtime::Session s(ctx(), paged, o);  // no budget: every expert gets a slot
        ASSERT_NE(s.slot_plan(), nullptr);
        EXPECT_TRUE(s.slot_plan()->all_resident());
        EXPECT_FALSE(s.paged());
    }
    o.vram_budget = parse_vram_budget("50%");
    uint64_t min_bytes = 0;
    {
        runtime::Session s(ctx(), paged, o);
        EXPECT_EQ(s.slot_plan()->slots, 12u);
        EXPECT_EQ(s.slot_plan()->total_experts, 24u);
        min_bytes = s.slot_plan()->min_budget_bytes;
    }
    // The minimum in bytes gives top_k slots; a byte less is refused, naming the minimum.
    o.vram_budget = parse_vram_budget(std::to_string(min_bytes));
    {
        runtime::Session s(ctx(), paged, o);
        EXPECT_EQ(s.slot_plan()->slots, 2u);
        EXPECT_EQ(s.slot_plan()->device_bytes, min_bytes);
    }
    for (std::string too_small : {std::to_string(min_bytes - 1), std::string("4%")}) {
        o.vram_budget = parse_vram_budget(too_small);
        try {
            runtime::Session s(ctx(), paged, o);
            ADD_FAILURE() << too_small << " was accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
            EXPECT_NE(std::string(e.what()).find(std::to_string(min_bytes) + " bytes"), std::string::npos) << e.what();
        }
    }
    // A budget for a model whose experts are all uploaded already.
    runtime::DeviceModel resident(ctx(), *g.model);
    o.vram_budget = parse_vram_budget("50%");
    EXPECT_THROW(runtime::Session(ctx(), resident, o), Error);
}

// Without prefetch the session's hits are what replaying its own trace through the same policy
// gives: the engine keeps the books the oracle comparison (moe-bench) assumes.
TEST_F(Paging, HitsMatchAReplayOfTheTrace) {
    GeneratedModel g = generate(spec("qwen3moe", 16, 4, quant::WeightFormat::Q8_0, quant::WeightFormat::Q8_0, 24));
    const model::ModelConfig& c = g.model->config();
    runtime::DeviceModel paged(ctx(), *g.model, runtime::DeviceModelOptions{.page_experts = true});
    std::vector<uint32_t> prompt = some_tokens(6, c.n_vocab, 2), gen = some_tokens(6, c.n_vocab, 8);
    for (CachePolicy policy : {CachePolicy::Lru, CachePolicy::Lfu}) {
        for (const char* budget : {"25%", "min"}) {
            SCOPED_TRACE(std::string(experts::policy_name(policy)) + " " + budget);
            runtime::Session s(ctx(), paged,
                               {.n_ctx = 16, .max_batch = 8, .record_experts = true,
                                .vram_budget = parse_vram_budget(budget), .cache_policy = policy, .prefetch = false});
            experts::Trace trace;
            s.eval(prompt);
            trace.push_back(experts::trace_step(s.selected_experts(), uint32_t(prompt.size())));
            for (uint32_t t : gen) {
                s.eval(std::span<const uint32_t>(&t, 1));
                trace.push_back(experts::trace_step(s.selected_experts(), 1));
            }
            experts::LayerStats total = s.paging_stats().total();
            experts::ReplayResult replay = experts::replay_policy(trace, c.moe.n_experts, s.slot_plan()->slots, policy);
            EXPECT_EQ(total.hits, replay.hits);
            EXPECT_EQ(total.misses, replay.misses);
            experts::ReplayResult best = experts::replay_belady(trace, c.moe.n_experts, s.slot_plan()->slots);
            EXPECT_GE(best.hits, replay.hits);
        }
    }
}

TEST_F(Paging, AFailedUploadSurfacesAndTheSessionStaysUsable) {
    GeneratedModel g = generate(spec("llama", 8, 2, quant::WeightFormat::Q8_0, quant::WeightFormat::Q8_0, 22));
    const uint32_t n_vocab = g.model->config().n_vocab;
    std::vector<uint32_t> prompt = some_tokens(9, n_vocab, 4), gen = some_tokens(3, n_vocab, 6);
    runtime::SessionOptions o{.n_ctx = 16, .max_batch = 16};
    Logits resident;
    {
        runtime::DeviceModel all(ctx(), *g.model);
        resident = run(ctx(), all, o, prompt, gen);
    }
    runtime::DeviceModel paged(ctx(), *g.model, runtime::DeviceModelOptions{.page_experts = true});
    runtime::SessionOptions p = o;
    p.vram_budget = parse_vram_budget("min");
    // A run without failures counts the uploads (demand and prefetch, prompt and generation).
    int total = 0;
    p.before_upload = [&](uint32_t, uint32_t) { ++total; };
    run(ctx(), paged, p, prompt, gen);
    ASSERT_GT(total, 8);
    // Then fail the n-th upload for n across the whole run.
    for (int fail_at = 1; fail_at <= total; fail_at += std::max(1, total / 7)) {
        SCOPED_TRACE("upload " + std::to_string(fail_at) + " of " + std::to_string(total) + " fails");
        int uploads = 0;
        bool armed = true;
        p.before_upload = [&](uint32_t layer, uint32_t expert) {
            if (armed && ++uploads == fail_at)
                throw Error(ErrorCode::OutOfMemory, "injected failure uploading layer " + std::to_string(layer) +
                                                        " expert " + std::to_string(expert));
        };
        runtime::Session s(ctx(), paged, p);
        std::vector<float> prompt_logits, gen_logits;
        bool failed = false;
        auto eval = [&](std::span<const uint32_t> tokens) {
            uint32_t before = s.position();
            try {
                return s.eval(tokens);
            } catch (const Error& e) {
                EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
                EXPECT_EQ(s.position(), before);
                EXPECT_FALSE(failed) << "failed twice";
                failed = true;
                armed = false;
                return s.eval(tokens);  // the same tokens again, now without failures
            }
        };
        prompt_logits = eval(prompt);
        for (uint32_t t : gen) {
            std::vector<float> row = eval(std::span<const uint32_t>(&t, 1));
            gen_logits.insert(gen_logits.end(), row.begin(), row.end());
        }
        EXPECT_TRUE(failed);
        EXPECT_TRUE(identical(prompt_logits, resident.prompt));
        EXPECT_TRUE(identical(gen_logits, resident.generated));
    }
}

// Holds compute submissions back until released, so that work stays queued while the test
// asks the cache for more experts than it has slots.
class Gate {
public:
    explicit Gate(gpu::Context& ctx) : ctx_(ctx) {
        VkSemaphoreTypeCreateInfo type{VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO};
        type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
        VkSemaphoreCreateInfo info{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &type};
        MOEVK_VK_CHECK(ctx.vk().vkCreateSemaphore(ctx.device(), &info, nullptr, &queue_.timeline));
    }
    ~Gate() {
        open();
        ctx_.wait_idle();
        ctx_.vk().vkDestroySemaphore(ctx_.device(), queue_.timeline, nullptr);
    }
    const gpu::Queue* queue() const { return &queue_; }
    void open() {
        if (opened_) return;
        opened_ = true;
        VkSemaphoreSignalInfo signal{VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO};
        signal.semaphore = queue_.timeline;
        signal.value = 1;
        MOEVK_VK_CHECK(ctx_.vk().vkSignalSemaphore(ctx_.device(), &signal));
    }

private:
    gpu::Context& ctx_;
    gpu::Queue queue_;
    bool opened_ = false;
};

TEST_F(Paging, NoSlotIsOverwrittenWhileAQueuedDispatchReadsIt) {
    GeneratedModel g = generate(spec("llama", 8, 2, quant::WeightFormat::Q8_0, quant::WeightFormat::Q8_0, 23));
    const model::ModelFile& file = *g.model;
    const model::LayerWeights& layer = file.weights().layers[0];
    const moe::MoeConfig& mc = layer.moe.config;
    std::vector<experts::LayerExperts> sources;
    for (const model::LayerWeights& l : file.weights().layers)
        sources.push_back({l.moe.formats, mc.d_model, mc.d_ff, l.moe.experts});

    // The expert FFN of one token over experts 0 and 1 with fixed weights, from resident weights.
    moe::DeviceMoeWeights resident(ctx(), layer.moe);
    moe::DeviceMoeWeights without_experts(ctx(), layer.moe, false);
    moe::MoeLayer moe(ctx(), mc, 1);
    std::vector<float> x = test::random_floats(mc.d_model, 5);
    gpu::Buffer xb = test::device_buffer(ctx(), x, "x");
    gpu::Buffer out = test::poisoned_buffer(ctx(), mc.d_model, "out");
    gpu::upload(ctx(), moe.workspace().ids, std::vector<uint32_t>{0, 1});
    gpu::upload(ctx(), moe.workspace().weights, std::vector<float>{0.75f, 0.25f});
    auto ffn = [&](gpu::CommandBuffer& cb, const moe::DeviceMoeWeights& w, VkDeviceAddress table) {
        moe.record_experts_matvec(cb, w, table, xb.address(), 1);
        cb.barrier();
        moe.record_output(cb, w, xb.address(), out.address(), 1);
    };
    std::vector<float> expected;
    {
        gpu::CommandBuffer cb(ctx(), ctx().compute_queue());
        cb.begin();
        ffn(cb, resident, 0);
        cb.submit_and_wait();
        expected = gpu::download<float>(ctx(), out, mc.d_model);
        gpu::fill(ctx(), out, test::kPoison);
    }

    experts::ExpertCache cache(ctx(), sources, 2);
    std::vector<uint32_t> first = {0, 1}, second = {2, 3};
    uint64_t ready = cache.acquire(0, first);
    gpu::CommandBuffer cb(ctx(), ctx().compute_queue());
    {
        Gate gate(ctx());
        cb.begin();
        ASSERT_TRUE(cache.record_table_updates(cb, 0, first));
        cb.barrier();
        ffn(cb, without_experts, cache.table(0));
        cb.end();
        uint64_t v = ctx().submit(ctx().compute_queue(), cb.handle(), {{gate.queue(), 1}, {&ctx().transfer_queue(), ready}});
        cache.release(0, first, v);

        // Both slots are read by the queued FFN: prefetch takes neither; demand evicts them, but
        // its uploads wait on the compute timeline until the FFN has run.
        cache.prefetch(0, std::vector<uint32_t>{4}, ctx().completed(ctx().compute_queue()));
        EXPECT_EQ(cache.stats().layers[0].prefetched, 0u);
        EXPECT_EQ(cache.residency().slot_of(0, 4), experts::kNoSlot);
        cache.acquire(0, second);
        EXPECT_EQ(cache.residency().slot_of(0, 0), experts::kNoSlot);
        EXPECT_NE(cache.residency().slot_of(0, 2), experts::kNoSlot);
        // Room for a premature copy to land; on a device with a dedicated transfer queue it would
        // run now if it did not wait for the FFN. (With one queue executing in order, as
        // lavapipe's, it could not run early anyway.)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        EXPECT_LT(ctx().completed(ctx().transfer_queue()), ctx().transfer_queue().last_value)
            << "an upload into a slot the queued FFN reads has run";
        gate.open();
        ctx().wait(ctx().compute_queue(), v);
    }
    EXPECT_TRUE(identical(gpu::download<float>(ctx(), out, mc.d_model), expected))
        << "the FFN read a slot that was overwritten under it";
    cache.release(0, second, ctx().compute_queue().last_value);
    EXPECT_EQ(cache.stats().layers[0].misses, 4u);
}

}  // namespace
}  // namespace moevk
