#include "runtime/session.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "gpu/error.h"
#include "moe/stages.h"

namespace moevk::runtime {
namespace {

uint32_t context_length(const model::ModelConfig& c, uint32_t requested) {
    if (requested) return requested;
    return std::min<uint32_t>(c.n_ctx_train ? c.n_ctx_train : 4096, 4096);
}

// max_batch checked before the workspaces it sizes are made, with the limit said in tokens.
uint32_t checked_max_batch(const model::ModelConfig& c, uint32_t max_batch) {
    if (max_batch == 0) throw Error(ErrorCode::InvalidArgument, "session: max_batch must be positive");
    uint32_t limit = moe::max_step_tokens(c.moe.top_k, c.moe.n_experts);
    if (max_batch > limit)
        throw Error(ErrorCode::InvalidArgument, "session: max_batch " + std::to_string(max_batch) +
                                                    " is past the " + std::to_string(limit) +
                                                    " tokens one forward step of this model can hold");
    return max_batch;
}

// Non-finite logits mean weights holding NaN or infinity, or activations that overflowed; a
// sampler would pick a token from them without a word. `rows` rows of n_vocab from position
// `first`; the error names the first position and token that is not finite.
void check_finite(std::span<const float> logits, uint32_t n_vocab, uint32_t first) {
    for (size_t i = 0; i < logits.size(); ++i)
        if (!std::isfinite(logits[i]))
            throw Error(ErrorCode::BadFile,
                        "the logits at position " + std::to_string(first + i / n_vocab) + " are not finite (" +
                            (std::isnan(logits[i]) ? "NaN" : "infinity") + " for token " +
                            std::to_string(i % n_vocab) +
                            "): the model's weights hold non-finite values or its activations overflow");
}

}  // namespace

Session::Session(gpu::Context& ctx, const DeviceModel& model, SessionOptions options)
    : ctx_(ctx),
      model_(model),
      options_(options),
      n_ctx_(context_length(model.config(), options.n_ctx)),
      arena_at_start_(ctx.arena(gpu::MemoryKind::Device).bytes_in_use()),
      linear_ws_(ctx, checked_max_batch(model.config(), options.max_batch)),
      moe_(ctx, model.config().moe, checked_max_batch(model.config(), options.max_batch)),
      act_(ctx, model.config(), options.max_batch, "session"),
      forward_(ctx, model, act_, linear_ws_),
      commands_(ctx, ctx.compute_queue()) {
    const model::ModelConfig& c = model.config();
    uint64_t b = options_.max_batch;
    auto alloc = [&](uint64_t bytes, const std::string& what) {
        return ctx.allocate(bytes, gpu::MemoryKind::Device, "session " + what);
    };
    for (uint32_t i = 0; i < c.n_layers; ++i) {
        k_cache_.push_back(alloc(kv_bytes(options_.kv_format, size_t(n_ctx_) * c.kv_dim()), "K cache"));
        v_cache_.push_back(alloc(kv_bytes(options_.kv_format, size_t(n_ctx_) * c.kv_dim()), "V cache"));
    }
    // The last token's logits live in host-visible memory: decode then needs no staging copy (a
    // submit and wait) after the forward pass, as the token ids (StepActivations) need none before.
    last_logits_ = ctx.allocate(uint64_t(c.n_vocab) * 4, gpu::MemoryKind::Host, "session last logits");
    logits_ = alloc(b * c.n_vocab * 4, "logits");
    // Host-visible: the selected experts are read after each step without a staging copy.
    if (options_.record_experts)
        expert_ids_ = ctx.allocate(uint64_t(c.n_layers) * b * c.moe.top_k * 4, gpu::MemoryKind::Host,
                                   "session expert ids");
    if (options_.vram_budget && !model.experts_paged())
        throw Error(ErrorCode::InvalidArgument,
                    "session: a VRAM budget needs a DeviceModel loaded with page_experts; this one holds every "
                    "expert already");
    if (model.experts_paged()) init_paging();
    device_bytes_ = ctx.arena(gpu::MemoryKind::Device).bytes_in_use() - arena_at_start_;
}

Session::~Session() {
    if (!cache_) return;
    try {
        ctx_.wait_idle();
    } catch (...) {
        // A lost device cannot be waited on; destruction proceeds regardless.
    }
}

VkDeviceAddress Session::expert_table(uint32_t layer) const {
    return cache_ ? cache_->table(layer) : model_.layers()[layer].moe->expert_table();
}

StepSequence Session::sequence(uint32_t T) const { return {0, T, position_, &k_cache_, &v_cache_, options_.kv_format}; }

void Session::record_input(gpu::CommandBuffer& cb, uint32_t T) { forward_.input(cb, T); }

void Session::record_attention_block(gpu::CommandBuffer& cb, uint32_t i, uint32_t T) {
    StepSequence one = sequence(T);
    forward_.attention_block(cb, i, T, {&one, 1});
}

void Session::record_moe_tail(gpu::CommandBuffer& cb, uint32_t i, uint32_t T) {
    cb.barrier();
    if (options_.record_experts) record_expert_copy(cb, moe_.workspace().ids, i, 0, T);
    forward_.residual(cb, T);
}

void Session::record_expert_copy(gpu::CommandBuffer& cb, const gpu::Buffer& ids, uint32_t layer, uint32_t first_row,
                                 uint32_t T) {
    const uint64_t K = model_.config().moe.top_k;
    cb.copy(ids, uint64_t(first_row) * K * 4, expert_ids_, uint64_t(layer) * options_.max_batch * K * 4, T * K * 4);
}

void Session::record_logits(gpu::CommandBuffer& cb, uint32_t T, bool all_logits) {
    // Only the rows whose logits are wanted go through the output norm and the vocabulary.
    uint32_t rows = all_logits ? T : 1;
    forward_.logits(cb, T - rows, rows, all_logits ? logits_.address() : last_logits_.address());
}

void Session::record_layer(gpu::CommandBuffer& cb, uint32_t i, uint32_t T) {
    record_attention_block(cb, i, T);
    // MoE block: x += moe(norm(x)).
    moe_.record(cb, *model_.layers()[i].moe, act_.h.address(), act_.o.address(), T, nullptr, expert_table(i));
    record_moe_tail(cb, i, T);
}

void Session::record_step(gpu::CommandBuffer& cb, uint32_t T, bool all_logits) {
    record_input(cb, T);
    for (uint32_t i = 0; i < model_.config().n_layers; ++i) record_layer(cb, i, T);
    record_logits(cb, T, all_logits);
}

void Session::check_tokens(std::span<const uint32_t> tokens) const {
    const model::ModelConfig& c = model_.config();
    if (tokens.empty()) throw Error(ErrorCode::InvalidArgument, "session: no tokens to evaluate");
    for (uint32_t t : tokens)
        if (t >= c.n_vocab)
            throw Error(ErrorCode::InvalidArgument, "token id " + std::to_string(t) +
                                                        " is outside the vocabulary of " + std::to_string(c.n_vocab));
    if (uint64_t(position_) + tokens.size() > n_ctx_)
        throw Error(ErrorCode::ContextFull, "context full: " + std::to_string(position_) + " + " +
                                                    std::to_string(tokens.size()) + " tokens exceed the context of " +
                                                    std::to_string(n_ctx_));
}

void Session::begin_pieces(std::span<const uint32_t> tokens) {
    if (paged()) throw Error(ErrorCode::InvalidArgument, "session: a paged step cannot run in pieces");
    check_tokens(tokens);
    if (tokens.size() > options_.max_batch)
        throw Error(ErrorCode::InvalidArgument, "session: " + std::to_string(tokens.size()) +
                                                    " tokens in one step exceed max_batch " +
                                                    std::to_string(options_.max_batch));
    piece_tokens_ = static_cast<uint32_t>(tokens.size());
    gpu::upload(ctx_, act_.ids, tokens.data(), uint64_t(piece_tokens_) * 4);
    begin_expert_record();
}

void Session::begin_expert_record() {
    if (options_.record_experts) experts_.assign(model_.config().n_layers, {});
}

void Session::warm_up() {
    if (paged()) return;
    const uint32_t saved = piece_tokens_;
    for (uint32_t T : {1u, options_.max_batch}) {
        commands_.begin();
        piece_tokens_ = T;
        for (uint32_t p = 0; p < pieces(); ++p) record_piece(commands_, p);
        commands_.end();  // never submitted: the next begin() resets it
    }
    piece_tokens_ = saved;
}

void Session::record_piece(gpu::CommandBuffer& cb, uint32_t piece) {
    const uint32_t n_layers = model_.config().n_layers;
    if (piece >= pieces())
        throw Error(ErrorCode::InvalidArgument, "session: piece " + std::to_string(piece) + " of a step of " +
                                                    std::to_string(pieces()));
    if (piece == 0)
        record_input(cb, piece_tokens_);
    else if (piece <= n_layers)
        record_layer(cb, piece - 1, piece_tokens_);
    else
        record_logits(cb, piece_tokens_, false);
}

void Session::finish_pieces() {
    check_last_logits(piece_tokens_);
    advance_position(piece_tokens_);
}

void Session::check_last_logits(uint32_t tokens) const {
    check_finite(last_logits(), model_.config().n_vocab, position_ + tokens - 1);
}

void Session::advance_position(uint32_t tokens) {
    position_ += tokens;
    collect_selected_experts(tokens);
}

std::span<const float> Session::last_logits() const {
    return {static_cast<const float*>(last_logits_.mapped()), model_.config().n_vocab};
}

std::vector<float> Session::eval(std::span<const uint32_t> tokens, bool all_logits) {
    check_tokens(tokens);
    std::vector<float> logits;
    begin_expert_record();
    const uint32_t start = position_;
    try {
        for (size_t done = 0; done < tokens.size();) {
            uint32_t T = static_cast<uint32_t>(std::min<size_t>(options_.max_batch, tokens.size() - done));
            eval_chunk(tokens.subspan(done, T), all_logits, done + T == tokens.size(), logits);
            done += T;
        }
    } catch (...) {
        // Whatever the step wrote past `start` in the KV cache is overwritten by the next eval.
        position_ = start;
        if (cache_) {
            try {
                cache_->recover();
            } catch (...) {
            }
        }
        throw;
    }
    return logits;
}

void Session::eval_chunk(std::span<const uint32_t> tokens, bool want_all, bool last_chunk,
                         std::vector<float>& logits) {
    const model::ModelConfig& c = model_.config();
    const uint32_t T = static_cast<uint32_t>(tokens.size());
    gpu::upload(ctx_, act_.ids, tokens.data(), uint64_t(T) * 4);
    if (paged()) {
        step_paged(T, want_all);
    } else {
        commands_.begin();
        record_step(commands_, T, want_all);
        commands_.submit_and_wait();
    }
    position_ += T;
    if (want_all || last_chunk) {
        size_t rows = want_all ? T : 1;
        std::vector<float> part = gpu::download<float>(ctx_, want_all ? logits_ : last_logits_, rows * c.n_vocab);
        check_finite(part, c.n_vocab, position_ - uint32_t(rows));
        // last_logits() is the last position's after every step.
        if (want_all && last_chunk)
            std::copy(part.end() - c.n_vocab, part.end(), static_cast<float*>(last_logits_.mapped()));
        if (!want_all) logits.clear();
        logits.insert(logits.end(), part.begin(), part.end());
    }
    collect_selected_experts(T);
}

void Session::collect_selected_experts(uint32_t T) {
    if (!options_.record_experts) return;
    const model::ModelConfig& c = model_.config();
    const size_t kk = c.moe.top_k;
    const uint32_t* all = static_cast<const uint32_t*>(expert_ids_.mapped());
    for (uint32_t i = 0; i < c.n_layers; ++i) {
        const uint32_t* first = all + size_t(i) * options_.max_batch * kk;
        experts_[i].insert(experts_[i].end(), first, first + size_t(T) * kk);
    }
}

const experts::PagingStats& Session::paging_stats() const {
    static const experts::PagingStats none;
    return cache_ ? cache_->stats() : none;
}

void Session::reset_paging_stats() {
    if (cache_) cache_->reset_stats();
}

}  // namespace moevk::runtime
