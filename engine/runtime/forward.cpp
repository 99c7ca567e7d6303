#include "runtime/forward.h"

#include <cmath>

#include "runtime/attention_params.h"

namespace moevk::runtime {

StepActivations::StepActivations(gpu::Context& ctx, const model::ModelConfig& c, uint32_t rows,
                                 const std::string& owner) {
    uint64_t b = rows;
    auto alloc = [&](uint64_t bytes, const std::string& what) {
        return ctx.allocate(bytes, gpu::MemoryKind::Device, owner + " " + what);
    };
    ids = ctx.allocate(b * 4, gpu::MemoryKind::Host, owner + " token ids");
    x = alloc(b * c.d_model * 4, "residual");
    h = alloc(b * c.d_model * 4, "normed");
    o = alloc(b * c.d_model * 4, "attention output");
    q = alloc(b * c.q_dim() * 4, "q");
    att = alloc(b * c.q_dim() * 4, "attention");
    k = alloc(b * c.kv_dim() * 4, "k");
    v = alloc(b * c.kv_dim() * 4, "v");
}

ForwardRecorder::ForwardRecorder(gpu::Context& ctx, const DeviceModel& model, const StepActivations& act,
                                 const LinearWorkspace& ws, uint32_t matvec_max_tokens)
    : ctx_(ctx), model_(model), act_(act), ws_(ws), matvec_max_tokens_(matvec_max_tokens) {}

void ForwardRecorder::linear(gpu::CommandBuffer& cb, const LinearWeight& w, const gpu::Buffer& x,
                             const gpu::Buffer& y, uint32_t rows, const gpu::Buffer& bias) const {
    record_linear(cb, ctx_, w, ws_, x.address(), y.address(), rows, matvec_max_tokens_, bias ? bias.address() : 0);
}

void ForwardRecorder::input(gpu::CommandBuffer& cb, uint32_t rows) const {
    record_embed(cb, ctx_, model_.embed_format(), model_.token_embd().address(), act_.ids.address(), act_.x.address(),
                 rows, model_.config().d_model);
    cb.barrier();
}

void ForwardRecorder::attention_block(gpu::CommandBuffer& cb, uint32_t i, uint32_t T,
                                      std::span<const StepSequence> sequences) const {
    const model::ModelConfig& c = model_.config();
    const uint32_t d = c.d_model;
    const AttentionParams a = attention_params(c, i);
    const DeviceLayer& l = model_.layers()[i];
    // h = norm(x); q, k, v; per-head or whole Q/K norm; rope; cache; attend.
    record_rmsnorm(cb, ctx_, act_.x.address(), l.attn_norm.address(), act_.h.address(), T, d, c.rms_eps);
    cb.barrier();
    // Each bias is optional in the file (an empty buffer when absent), added in the kernel.
    linear(cb, *l.wq.linear, act_.h, act_.q, T, l.q_bias);
    linear(cb, *l.wk.linear, act_.h, act_.k, T, l.k_bias);
    linear(cb, *l.wv.linear, act_.h, act_.v, T, l.v_bias);
    cb.barrier();
    const VkDeviceAddress q = act_.q.address(), k = act_.k.address();
    if (c.qk_norm == model::QkNorm::PerHead) {
        record_rmsnorm(cb, ctx_, q, l.q_norm.address(), q, T * c.n_heads, c.head_dim, c.rms_eps);
        record_rmsnorm(cb, ctx_, k, l.k_norm.address(), k, T * c.n_kv_heads, c.head_dim, c.rms_eps);
        cb.barrier();
    } else if (c.qk_norm == model::QkNorm::Whole) {
        record_rmsnorm(cb, ctx_, q, l.q_norm.address(), q, T, c.q_dim(), c.rms_eps);
        record_rmsnorm(cb, ctx_, k, l.k_norm.address(), k, T, c.kv_dim(), c.rms_eps);
        cb.barrier();
    }
    // Per sequence: its rows, its positions, its cache.
    const uint64_t q_row = uint64_t(c.q_dim()) * 4, kv_row = uint64_t(c.kv_dim()) * 4;
    for (const StepSequence& s : sequences) {
        record_rope(cb, ctx_, q + s.first_row * q_row, s.tokens, c.n_heads, c.head_dim, a.n_rot, s.position,
                    a.rope_base, a.neox, a.rope_scaling);
        record_rope(cb, ctx_, k + s.first_row * kv_row, s.tokens, c.n_kv_heads, c.head_dim, a.n_rot, s.position,
                    a.rope_base, a.neox, a.rope_scaling);
    }
    cb.barrier();
    for (const StepSequence& s : sequences) {
        record_store_kv(cb, ctx_, k + s.first_row * kv_row, (*s.k_cache)[i].address(), s.kv_format, s.tokens,
                        s.position, c.kv_dim());
        record_store_kv(cb, ctx_, act_.v.address() + s.first_row * kv_row, (*s.v_cache)[i].address(), s.kv_format,
                        s.tokens, s.position, c.kv_dim());
    }
    cb.barrier();
    for (const StepSequence& s : sequences)
        record_attention(cb, ctx_, q + s.first_row * q_row, (*s.k_cache)[i].address(), (*s.v_cache)[i].address(),
                         s.kv_format, act_.att.address() + s.first_row * q_row, s.tokens, s.position, c.n_heads,
                         c.n_kv_heads, c.head_dim, a.scale, a.window, l.sinks ? l.sinks.address() : 0);
    cb.barrier();
    linear(cb, *l.wo.linear, act_.att, act_.o, T, l.o_bias);
    cb.barrier();
    record_add(cb, ctx_, act_.x.address(), act_.o.address(), T * d);
    cb.barrier();

    // The MoE block's input: h = norm(x).
    record_rmsnorm(cb, ctx_, act_.x.address(), l.ffn_norm.address(), act_.h.address(), T, d, c.rms_eps);
    cb.barrier();
}

void ForwardRecorder::residual(gpu::CommandBuffer& cb, uint32_t rows) const {
    record_add(cb, ctx_, act_.x.address(), act_.o.address(), rows * model_.config().d_model);
    cb.barrier();
}

void ForwardRecorder::logits(gpu::CommandBuffer& cb, uint32_t first_row, uint32_t rows,
                             VkDeviceAddress logits) const {
    const model::ModelConfig& c = model_.config();
    VkDeviceAddress from = act_.x.address() + uint64_t(first_row) * c.d_model * 4;
    record_rmsnorm(cb, ctx_, from, model_.output_norm().address(), act_.h.address(), rows, c.d_model, c.rms_eps);
    cb.barrier();
    record_linear(cb, ctx_, model_.output(), ws_, act_.h.address(), logits, rows, matvec_max_tokens_);
}

}  // namespace moevk::runtime
