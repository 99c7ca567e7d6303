// Recorders for the transformer kernels around the MoE layers: norms, rotary embedding, the KV
// cache, attention, token embedding and the residual add. Buffers are passed as device
// addresses; each recorder checks the shapes it is given (throwing Error(InvalidArgument) that
// names the value) but cannot see buffer sizes, and records no barrier: the caller places one
// between a dispatch and any later one that reads what it wrote.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpu/commands.h"
#include "gpu/context.h"
#include "quant/formats.h"
#include "runtime/rope_scaling.h"

namespace moevk::runtime {

using Address = VkDeviceAddress;

// How K and V are stored in the cache: f32, or IEEE half two per 32-bit word.
enum class KvFormat { F32, F16 };
const char* kv_format_name(KvFormat format);  // "f32", "f16"
// Bytes of `values` cached values (values even for F16).
size_t kv_bytes(KvFormat format, size_t values);

// out[r][i] = x[r][i] / sqrt(mean_i(x[r]^2) + eps) * weight[i];  x, out [rows][n], weight [n],
// all f32. out may equal x. Per-layer norms (n = d_model), per-head Q/K norms (rows = T * heads,
// n = head_dim) and whole-vector Q/K norms (n = heads * head_dim) alike.
void record_rmsnorm(gpu::CommandBuffer& cb, gpu::Context& ctx, Address x, Address weight,
                    Address out, uint32_t rows, uint32_t n, float eps);

// Rotary embedding in place on x [tokens][n_heads][head_dim] f32; token t is at position pos0 + t.
// The first n_rot dims of each head turn, pair i by pos * freq_base^(-2i/n_rot): pairs
// (2i, 2i+1) normally (GPT-J / llama), (i, i + n_rot/2) with `neox`. n_rot is even and at most
// head_dim; positions stay below 2^24 (exact in f32). `scaling` applies linear or YaRN frequency
// scaling (runtime/rope_scaling.h).
void record_rope(gpu::CommandBuffer& cb, gpu::Context& ctx, Address x, uint32_t tokens,
                 uint32_t n_heads, uint32_t head_dim, uint32_t n_rot, uint32_t pos0,
                 float freq_base, bool neox, const RopeScalingParams& scaling = {});

// cache[pos0 + t][j] = src[t][j]: src f32 [tokens][row], cache [n_ctx][row] in `format` (row even
// for F16). The caller keeps pos0 + tokens within n_ctx.
void record_store_kv(gpu::CommandBuffer& cb, gpu::Context& ctx, Address src, Address cache,
                     KvFormat format, uint32_t tokens, uint32_t pos0, uint32_t row);

// Causal attention with grouped-query heads. q, out [tokens][n_heads][head_dim] f32; k_cache,
// v_cache [n_ctx][n_kv_heads][head_dim] in `format`, already holding positions
// 0 .. pos0 + tokens - 1. Token t (position pos0 + t) attends to positions 0 .. pos0 + t, head h
// to kv head h / (n_heads / n_kv_heads), with softmax(scale * q . k) in f32. head_dim <= 256
// (even for F16); tokens and n_heads <= 65535. out must not overlap q.
// With `window` > 0 a token attends to the last `window` positions only, itself included
// (sliding-window layers: positions P - window + 1 .. P). With `sinks` (f32 [n_heads], gpt-oss)
// head h's softmax denominator gains exp(sinks[h]): a logit with no value that takes weight away
// from the keys.
void record_attention(gpu::CommandBuffer& cb, gpu::Context& ctx, Address q, Address k_cache,
                      Address v_cache, KvFormat format, Address out, uint32_t tokens, uint32_t pos0,
                      uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim, float scale,
                      uint32_t window = 0, Address sinks = 0);

// out[t][i] = dequant(table[ids[t]])[i]: table [n_vocab][n] in `format`, ids u32 [tokens] (each
// below n_vocab: the kernel cannot check), out f32 [tokens][n]. n is a whole number of the
// format's blocks.
void record_embed(gpu::CommandBuffer& cb, gpu::Context& ctx, quant::WeightFormat format,
                  Address table, Address ids, Address out, uint32_t tokens, uint32_t n);

// x[i] += y[i] for count f32 values (the residual connection).
void record_add(gpu::CommandBuffer& cb, gpu::Context& ctx, Address x, Address y, uint32_t count);

}  // namespace moevk::runtime
