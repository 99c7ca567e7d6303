// One conversation's state on the GPU: the KV cache and the scratch activations, and the forward
// step that runs a batch of tokens through the whole model. A prompt runs as batches (the
// grouped-GEMM path), generation one token at a time (matrix-vector products).
//
// With every expert resident a step is one command buffer with no host round trip. When the
// DeviceModel leaves the routed experts to paging and the VRAM budget does not hold them all, a
// step is cut at each layer's top-k: the host reads back the selected ids, has the expert cache
// upload the misses, and submits the rest of the layer waiting on the transfer timeline.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "experts/budget.h"
#include "experts/expert_cache.h"
#include "experts/stats.h"
#include "gpu/commands.h"
#include "gpu/context.h"
#include "moe/layer.h"
#include "runtime/forward.h"
#include "runtime/device_model.h"
#include "runtime/kernels.h"
#include "runtime/linear.h"

namespace moevk::runtime {

struct SessionOptions {
    uint32_t n_ctx = 0;        // KV cache positions; 0: the model's training context, at most 4096
    uint32_t max_batch = 256;  // tokens per forward step; longer prompts run as several steps
    KvFormat kv_format = KvFormat::F32;
    // Keep each step's selected experts for selected_experts() (one small copy per layer).
    bool record_experts = false;

    // Expert paging, for a DeviceModel loaded with page_experts (which this session then gives
    // every expert a slot when no budget is set). The budget covers the resident weights, this
    // session's KV cache and scratch, and the expert slots.
    std::optional<experts::VramBudget> vram_budget;
    experts::CachePolicy cache_policy = experts::CachePolicy::Lru;
    double lfu_decay = 0.9;  // per forward step
    // Guess the next layer's experts by applying its router to the current layer's input, and
    // upload them while the current layer computes.
    bool prefetch = true;
    // Called before each expert upload with (layer, expert); what it throws fails that upload
    // and comes out of eval() (tests inject errors here).
    std::function<void(uint32_t, uint32_t)> before_upload;
};

class Session {
public:
    // Throws Error(InvalidArgument) for a budget too small for one layer's top-k (naming the
    // smallest that works), or a budget for a model whose experts are already all uploaded.
    Session(gpu::Context& ctx, const DeviceModel& model, SessionOptions options = {});
    // Waits for uploads still in flight (prefetches nobody waited for) before freeing anything.
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Runs `tokens` at the current position, appending them to the KV cache. Returns the logits
    // [T][n_vocab] of every token, or only the last token's [n_vocab] with `all_logits` false.
    // Throws Error(InvalidArgument) for a token outside the vocabulary, Error(ContextFull) for
    // a full context; the session is unchanged then. last_logits() holds the last position's
    // logits afterwards. An error during the step (a failed expert upload) leaves the
    // position unchanged and the session usable.
    std::vector<float> eval(std::span<const uint32_t> tokens, bool all_logits = true);

    // A forward step in pieces, for a caller that spreads one step over several submits (the
    // frame-budget mode, runtime/step_runner.h): piece 0 embeds the tokens, piece 1 + i runs
    // layer i, the last piece the output norm and the vocabulary projection of the last row.
    // begin_pieces checks and uploads at most max_batch tokens (the errors of eval()); the
    // pieces are recorded in order into command buffers that the caller submits in order on
    // the compute queue; finish_pieces, once the last piece has completed, advances the
    // position. The kernels and their order are eval()'s, so the logits are eval()'s bit for
    // bit however the pieces are grouped. Not for paged steps (paged() is false).
    uint32_t pieces() const { return model_.config().n_layers + 2; }
    // Builds every pipeline a step of one token and a step of max_batch tokens use, by
    // recording both without submitting them: the first steps then do not stop to compile
    // shaders (tens of milliseconds each on some drivers), which a frame loop would feel.
    void warm_up();
    void begin_pieces(std::span<const uint32_t> tokens);
    void record_piece(gpu::CommandBuffer& cb, uint32_t piece);
    void finish_pieces();
    // The logits of the last position after a step that asked only for them (every step of
    // the piece path), [n_vocab], in host-visible memory: valid until the next step.
    std::span<const float> last_logits() const;
    // The token count of the step in pieces.
    uint32_t piece_tokens() const { return piece_tokens_; }

    const SessionOptions& options() const { return options_; }
    // Device memory this session allocated: KV cache, activations, scratch (and expert slots).
    uint64_t device_bytes() const { return device_bytes_; }
    const DeviceModel& model() const { return model_; }
    uint32_t position() const { return position_; }
    uint32_t n_ctx() const { return n_ctx_; }
    // Forgets the conversation (the cache is overwritten from position 0).
    void reset() { position_ = 0; }
    // Forgets every position from `position` on, keeping the earlier ones: a chat whose new
    // prompt shares only a prefix with what the cache holds continues from there.
    void truncate(uint32_t position) { position_ = std::min(position_, position); }

    // With record_experts: [layer][T][K] expert ids the last eval() selected, best first.
    const std::vector<std::vector<uint32_t>>& selected_experts() const { return experts_; }

    // The slot plan when the model's experts are paged (nullptr when the DeviceModel holds them).
    const experts::SlotPlan* slot_plan() const { return cache_ ? &plan_ : nullptr; }
    // Whether steps round-trip to the host (paged and not every expert has a slot).
    bool paged() const { return cache_ && !cache_->all_resident(); }
    // Hits, misses, prefetch accuracy, bytes, waits and tokens per expert, per layer, counted
    // on the paged path since the session began or reset_paging_stats().
    const experts::PagingStats& paging_stats() const;
    void reset_paging_stats();

private:
    // BatchStep records this session's rows into its own steps through the members below.
    friend class BatchStep;
    // With record_experts: the next step's selected experts start a new record.
    void begin_expert_record();
    // After a step of `tokens` tokens that left last_logits(): Error(BadFile) when they are not
    // finite (the position unchanged); then advance_position moves past the step's tokens and
    // collects their selected experts.
    void check_last_logits(uint32_t tokens) const;
    void advance_position(uint32_t tokens);
    // Error(InvalidArgument) for an empty batch, a token outside the vocabulary or a full context.
    void check_tokens(std::span<const uint32_t> tokens) const;
    void eval_chunk(std::span<const uint32_t> tokens, bool all_logits, bool last_chunk, std::vector<float>& logits);
    // With record_experts: appends the T tokens' selected experts of the step just run.
    void collect_selected_experts(uint32_t tokens);
    // The step's pieces; the resident path records them all into one command buffer.
    void record_step(gpu::CommandBuffer& cb, uint32_t tokens, bool all_logits);
    // This session's rows in a step of its own: rows 0 .. tokens - 1 at the current position.
    StepSequence sequence(uint32_t tokens) const;
    void record_input(gpu::CommandBuffer& cb, uint32_t tokens);  // the token embeddings into x
    // Attention and its residual, then the MoE block's norm into h_.
    void record_attention_block(gpu::CommandBuffer& cb, uint32_t layer, uint32_t tokens);
    // After the MoE layer wrote o: the recorded experts, x += o.
    void record_moe_tail(gpu::CommandBuffer& cb, uint32_t layer, uint32_t tokens);
    // With record_experts: the [tokens][K] expert ids at row `first_row` of `ids` (a MoE
    // workspace's) into this session's record of layer `layer`.
    void record_expert_copy(gpu::CommandBuffer& cb, const gpu::Buffer& ids, uint32_t layer, uint32_t first_row,
                            uint32_t tokens);
    // One whole layer on the resident path: attention block, MoE layer, tail.
    void record_layer(gpu::CommandBuffer& cb, uint32_t layer, uint32_t tokens);
    void record_logits(gpu::CommandBuffer& cb, uint32_t tokens, bool all_logits);
    VkDeviceAddress expert_table(uint32_t layer) const;

    // The paged step (session_paged.cpp).
    void init_paging();
    void step_paged(uint32_t tokens, bool all_logits);

    gpu::Context& ctx_;
    const DeviceModel& model_;
    SessionOptions options_;
    uint32_t n_ctx_ = 0;
    uint32_t position_ = 0;
    uint64_t arena_at_start_;  // device bytes in use before this session's buffers
    uint64_t device_bytes_ = 0;
    LinearWorkspace linear_ws_;
    moe::MoeLayer moe_;
    StepActivations act_;
    ForwardRecorder forward_;
    std::vector<gpu::Buffer> k_cache_, v_cache_;  // per layer [n_ctx][kv_dim]
    gpu::Buffer logits_;                           // [max_batch][n_vocab] f32
    gpu::Buffer last_logits_;                      // [n_vocab] f32, host-visible
    gpu::Buffer expert_ids_;                       // [layers][max_batch][K] u32 with record_experts
    gpu::CommandBuffer commands_;
    std::vector<std::vector<uint32_t>> experts_;
    uint32_t piece_tokens_ = 0;  // the step in pieces begun

    // Paging.
    std::unique_ptr<experts::ExpertCache> cache_;
    experts::SlotPlan plan_;
    gpu::Buffer guess_logits_, guess_ids_, guess_weights_;  // the next layer's router on this layer's input
    gpu::Buffer readback_;     // host: ids, tiles, meta and guessed ids of the layer just routed
    gpu::Buffer group_tiles_;  // host: the GEMM tile lists of one layer's expert groups
    // Command buffers of the segments a paged step submits, with the values they signal.
    std::vector<std::unique_ptr<gpu::CommandBuffer>> segments_;
    std::vector<uint64_t> segment_values_;
    uint32_t next_segment_ = 0;
};

}  // namespace moevk::runtime
