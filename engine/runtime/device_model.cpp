#include "runtime/device_model.h"

#include "gpu/commands.h"

namespace moevk::runtime {
namespace {

class Uploader {
public:
    explicit Uploader(gpu::Context& ctx) : ctx_(ctx) {}

    gpu::Buffer bytes(std::span<const uint8_t> data, const std::string& what) {
        gpu::Buffer b = ctx_.allocate(data.size(), gpu::MemoryKind::Device, what);
        gpu::upload(ctx_, b, data.data(), data.size());
        total += data.size();
        return b;
    }
    gpu::Buffer floats(std::span<const float> data, const std::string& what) {
        if (data.empty()) return {};
        return bytes({reinterpret_cast<const uint8_t*>(data.data()), data.size_bytes()}, what);
    }
    DeviceMatrix matrix(const model::Matrix& m) {
        DeviceMatrix d;
        d.bytes = bytes(m.bytes, m.name);
        d.linear = std::make_unique<LinearWeight>(ctx_, m.format, d.bytes.address(), m.row_len, m.rows);
        return d;
    }
    uint64_t total = 0;

private:
    gpu::Context& ctx_;
};

}  // namespace

DeviceModel::DeviceModel(gpu::Context& ctx, const model::ModelFile& model, const DeviceModelOptions& options,
                         const std::function<void(uint32_t, uint32_t)>& progress)
    : config_(model.config()), embed_format_(model.weights().token_embd.format) {
    const uint64_t arena_before = ctx.arena(gpu::MemoryKind::Device).bytes_in_use();
    if (options.page_experts) paged_file_ = &model;
    const model::ModelWeights& w = model.weights();
    Uploader up(ctx);
    token_embd_.bytes = up.bytes(w.token_embd.bytes, w.token_embd.name);
    output_norm_ = up.floats(w.output_norm, "output_norm.weight");
    if (w.output.bytes.data() == w.token_embd.bytes.data()) {
        // Tied: the vocabulary projection reads the embedding table.
        output_linear_ = std::make_unique<LinearWeight>(ctx, w.token_embd.format, token_embd_.bytes.address(),
                                                        config_.d_model, config_.n_vocab);
    } else {
        output_ = up.matrix(w.output);
        output_linear_ = std::move(output_.linear);
    }
    uint32_t n = static_cast<uint32_t>(w.layers.size());
    for (uint32_t i = 0; i < n; ++i) {
        const model::LayerWeights& l = w.layers[i];
        std::string p = "blk." + std::to_string(i) + ".";
        DeviceLayer d;
        d.attn_norm = up.floats(l.attn_norm, p + "attn_norm");
        d.ffn_norm = up.floats(l.ffn_norm, p + "ffn_norm");
        d.q_norm = up.floats(l.q_norm, p + "attn_q_norm");
        d.k_norm = up.floats(l.k_norm, p + "attn_k_norm");
        d.q_bias = up.floats(l.q_bias, p + "attn_q.bias");
        d.k_bias = up.floats(l.k_bias, p + "attn_k.bias");
        d.v_bias = up.floats(l.v_bias, p + "attn_v.bias");
        d.o_bias = up.floats(l.o_bias, p + "attn_output.bias");
        d.sinks = up.floats(l.sinks, p + "attn_sinks");
        d.wq = up.matrix(l.wq);
        d.wk = up.matrix(l.wk);
        d.wv = up.matrix(l.wv);
        d.wo = up.matrix(l.wo);
        d.moe = std::make_unique<moe::DeviceMoeWeights>(ctx, l.moe, !options.page_experts);
        up.total += d.moe->expert_bytes() * (options.page_experts ? 0 : config_.moe.n_experts) +
                    d.moe->shared_expert_bytes() + l.moe.router.size_bytes() + d.moe->bias_bytes();
        layers_.push_back(std::move(d));
        if (progress) progress(i + 1, n);
    }
    bytes_ = up.total;
    device_bytes_ = ctx.arena(gpu::MemoryKind::Device).bytes_in_use() - arena_before;
}

}  // namespace moevk::runtime
