#include "layer_bench.h"

#include <cmath>
#include <random>
#include <set>

#include "gpu/commands.h"
#include "moe/device_weights.h"
#include "moe/weights.h"

namespace moebench {

using namespace moevk;
using moe::MoeConfig;

namespace {

// Random weights at real-model sizes in seconds rather than minutes: a few distinct random
// experts are generated and repeated to fill all E. Every expert still has its own device
// memory, so the bytes moved are those of distinct experts.
moe::MoeWeights bench_weights(const MoeConfig& c, uint64_t seed) {
    MoeConfig few = c;
    few.n_experts = std::min<uint32_t>(c.n_experts, 2);
    few.top_k = std::min(c.top_k, few.n_experts);
    moe::MoeWeights distinct = moe::random_weights(few, seed);

    moe::MoeWeights w;
    w.config = c;
    std::mt19937_64 rng(seed + 1);
    float bound = 2.0f * std::sqrt(3.0f / c.d_model);
    std::uniform_real_distribution<float> dist(-bound, bound);
    w.router.resize(size_t(c.n_experts) * c.d_model);
    for (float& v : w.router) v = dist(rng);
    if (c.selection_bias) w.selection_bias.assign(c.n_experts, 0.0f);
    // gpt-oss's biases: small, drawn whole (they cost a read per output, not per weight).
    std::uniform_real_distribution<float> small(-0.5f, 0.5f);
    auto biases = [&](size_t n) {
        std::vector<float> b(n);
        for (float& v : b) v = small(rng);
        return b;
    };
    if (c.router_bias) w.router_bias = biases(c.n_experts);
    if (c.expert_biases) {
        w.gate_bias = biases(size_t(c.n_experts) * c.d_ff);
        w.up_bias = biases(size_t(c.n_experts) * c.d_ff);
        w.down_bias = biases(size_t(c.n_experts) * c.d_model);
    }
    for (uint32_t e = 0; e < c.n_experts; ++e) w.experts.push_back(distinct.experts[e % distinct.experts.size()]);
    w.shared = std::move(distinct.shared);
    w.shared_gate = std::move(distinct.shared_gate);
    return w;
}

}  // namespace

LayerResult bench_layer(gpu::Context& ctx, const std::string& shape, const MoeConfig& c, uint32_t tokens,
                        double min_seconds, uint64_t seed) {
    auto weights = std::make_unique<moe::DeviceMoeWeights>(ctx, bench_weights(c, seed));
    moe::MoeLayer layer(ctx, *weights, tokens);

    std::mt19937_64 rng(seed + 2);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> x(size_t(tokens) * c.d_model);
    for (float& v : x) v = dist(rng);
    gpu::Buffer xb = ctx.allocate(x.size() * 4, gpu::MemoryKind::Device, "bench input");
    gpu::Buffer out = ctx.allocate(x.size() * 4, gpu::MemoryKind::Device, "bench output");
    gpu::upload(ctx, xb, x);

    gpu::TimestampPool stamps(ctx, moe::kMoeStageCount + 1);
    gpu::CommandBuffer cb(ctx, ctx.compute_queue());
    std::vector<std::vector<double>> stage_seconds(moe::kMoeStageCount);
    bool warm = false;
    auto run_once = [&] {
        cb.begin();
        cb.reset_timestamps(stamps);
        layer.record(cb, xb.address(), out.address(), tokens, &stamps);
        cb.submit_and_wait();
        std::vector<double> ns = stamps.read_ns();
        if (warm)
            for (uint32_t s = 0; s < moe::kMoeStageCount; ++s) stage_seconds[s].push_back((ns[s + 1] - ns[s]) * 1e-9);
        warm = true;  // repeat() runs once to warm up first
        return ns.back() * 1e-9;
    };
    std::vector<double> layer_seconds = repeat(run_once, min_seconds);

    LayerResult r;
    r.shape = shape;
    r.config = c;
    r.tokens = tokens;
    r.matvec_path = layer.uses_matvec(tokens);
    std::vector<uint32_t> ids = layer.selected_ids(tokens);
    r.experts_touched = static_cast<uint32_t>(std::set<uint32_t>(ids.begin(), ids.end()).size());

    // What each stage must move at least (bytes) and compute (FLOPs), from the shapes.
    double T = tokens, d = c.d_model, ff = c.d_ff, E = c.n_experts, K = c.top_k, P = T * K;
    double ffs = c.d_ff_shared, f = 4;  // activations are f32
    double expert_weights = r.experts_touched * double(weights->expert_bytes()) + weights->shared_expert_bytes();
    std::array<double, moe::kMoeStageCount> bytes = {
        (T * d + E * d + T * E) * f,
        (T * E + 2 * P) * f,
        r.matvec_path ? 0.0 : (4 * P + 3 * E) * f,
        expert_weights + (P * (2 * d + 2 * ff) + T * (2 * d + 2 * ffs)) * f,
        (P * d + 2 * P + T * d + (ffs > 0 ? T * d : 0)) * f,
    };
    std::array<double, moe::kMoeStageCount> flops = {2 * T * E * d, 0, 0, 2 * P * 3 * d * ff + 2 * T * 3 * d * ffs,
                                                     2 * P * d};
    double all_bytes = 0, all_flops = 0;
    for (uint32_t s = 0; s < moe::kMoeStageCount; ++s) {
        r.stages.push_back({moe::stage_name(static_cast<moe::MoeStage>(s)), summarize(stage_seconds[s]), bytes[s],
                            flops[s]});
        all_bytes += bytes[s];
        all_flops += flops[s];
    }
    r.stages.push_back({"layer", summarize(layer_seconds), all_bytes, all_flops});
    return r;
}

}  // namespace moebench
