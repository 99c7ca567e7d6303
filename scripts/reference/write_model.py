#!/usr/bin/env python3
"""Writes a tiny MoE model with random weights in the GGUF layout real files of an architecture have.

    write_model.py ARCH OUT.gguf --vocab DONOR.gguf [--seed N]

ARCH is an entry of WRITERS below. The vocabulary is byte-level BPE: the 256 byte tokens and the
merges of DONOR (a gpt2-type GGUF file, e.g. ../shared/fixtures/models/qwen3moe-tiny-f16.gguf), its
own special tokens dropped, the architecture's special tokens appended. The weights are F16 where
llama.cpp's converter (convert_hf_to_gguf.py, MOSTLY_F16) writes F16 and F32 where it forces F32
(1-D tensors, *_norm.weight, ffn_gate_inp.weight, every tensor whose name does not end in .weight);
quantized files are made from this one with llama-quantize.

Needs the gguf package of the llama.cpp tree (PYTHONPATH=<llama.cpp>/gguf-py) and numpy (Debian's
python3-numpy). The same seed gives the same file (numpy's PCG64 stream).

A new architecture is one more entry: a function that takes (writer, rng, vocab) and adds its
hyperparameters and tensors, and its special tokens.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import numpy as np

import gguf


@dataclass
class Vocab:
    tokens: list[str]
    types: list[int]
    merges: list[str]
    ids: dict[str, int] = field(default_factory=dict)  # special token text -> id

    @property
    def size(self) -> int:
        return len(self.tokens)


def donor_vocab(path: str, specials: list[str]) -> Vocab:
    """The donor's normal tokens (its byte tokens and merge results) and merges, then `specials` as
    control tokens, in that order (ids follow the donor's last normal token)."""
    reader = gguf.GGUFReader(path)
    if reader.fields["tokenizer.ggml.model"].contents() != "gpt2":
        sys.exit(f"write_model: {path} is not a byte-level BPE (gpt2) vocabulary")
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    merges = reader.fields["tokenizer.ggml.merges"].contents()
    normal = [t for t, ty in zip(tokens, types) if ty == gguf.TokenType.NORMAL]
    if len(normal) < 256:
        sys.exit(f"write_model: {path} has {len(normal)} normal tokens, fewer than the 256 byte tokens")
    vocab = Vocab(tokens=list(normal), types=[gguf.TokenType.NORMAL] * len(normal), merges=list(merges))
    for s in specials:
        vocab.ids[s] = vocab.size
        vocab.tokens.append(s)
        vocab.types.append(gguf.TokenType.CONTROL)
    return vocab


def normal(rng: np.random.Generator, shape: tuple[int, ...], std: float, mean: float = 0.0) -> np.ndarray:
    return (mean + std * rng.standard_normal(shape)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# gpt-oss (llama.cpp LLM_ARCH_OPENAI_MOE; src/models/openai-moe.cpp, conversion/gpt_oss.py)

# The o200k_harmony special tokens gpt-oss files carry, in their order (ids 199998..200012 there).
GPT_OSS_SPECIALS = [
    "<|startoftext|>", "<|endoftext|>", "<|reserved_200000|>", "<|reserved_200001|>", "<|return|>",
    "<|constrain|>", "<|reserved_200004|>", "<|channel|>", "<|start|>", "<|end|>", "<|message|>",
    "<|reserved_200009|>", "<|reserved_200010|>", "<|reserved_200011|>", "<|call|>",
]


@dataclass
class GptOssShape:
    n_layer: int = 4
    n_embd: int = 96        # a multiple of 32 (MXFP4 and Q8_0 blocks); not a power of two, like 2880
    n_head: int = 4
    n_head_kv: int = 2
    head_dim: int = 32      # n_head * head_dim (128) != n_embd, as in gpt-oss (4096 vs 2880)
    n_expert: int = 8
    n_expert_used: int = 4
    n_ff_exp: int = 64      # a multiple of 32
    sliding_window: int = 8  # even layers slide (llama.cpp's pattern for gpt-oss), odd layers are full
    rope_theta: float = 150000.0
    yarn_factor: float = 4.0
    yarn_orig_ctx: int = 64
    rms_eps: float = 1e-5


def write_gpt_oss(w: gguf.GGUFWriter, rng: np.random.Generator, vocab: Vocab) -> None:
    s = GptOssShape()
    d, qd, kvd, E, ff = s.n_embd, s.n_head * s.head_dim, s.n_head_kv * s.head_dim, s.n_expert, s.n_ff_exp

    # The keys in the order this tree's converter writes them (TextModel.set_gguf_parameters, then
    # GptOssModel's sliding window and expert_feed_forward_length).
    w.add_type("model")
    w.add_name("gpt-oss tiny random")
    w.add_block_count(s.n_layer)
    w.add_context_length(int(s.yarn_orig_ctx * s.yarn_factor))
    w.add_embedding_length(d)
    w.add_feed_forward_length(ff)
    w.add_head_count(s.n_head)
    w.add_head_count_kv(s.n_head_kv)
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(s.yarn_factor)
    w.add_rope_scaling_orig_ctx_len(s.yarn_orig_ctx)
    # gpt-oss's config has beta_fast 32 / beta_slow 1; llama.cpp's gpt-oss loader does not read these
    # keys (its defaults are the same values), files converted before they existed lack them.
    w.add_rope_scaling_yarn_beta_fast(32.0)
    w.add_rope_scaling_yarn_beta_slow(1.0)
    w.add_rope_freq_base(s.rope_theta)
    w.add_layer_norm_rms_eps(s.rms_eps)
    w.add_expert_count(E)
    w.add_expert_used_count(s.n_expert_used)
    w.add_key_length(s.head_dim)
    w.add_value_length(s.head_dim)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_sliding_window(s.sliding_window)
    w.add_expert_feed_forward_length(ff)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-4o")
    w.add_token_list(vocab.tokens)
    w.add_token_types(vocab.types)
    w.add_token_merges(vocab.merges)
    # As gpt-oss files set them (tokenizer_config.json): no eot key (llama.cpp finds one by text),
    # no add_bos key (a gpt2 vocabulary adds no BOS by default).
    w.add_bos_token_id(vocab.ids["<|startoftext|>"])
    w.add_eos_token_id(vocab.ids["<|return|>"])
    w.add_pad_token_id(vocab.ids["<|endoftext|>"])

    f16 = lambda a: a.astype(np.float16)  # noqa: E731
    # Scales (inputs to every matrix are RMS-normalised, so about unit size):
    # - q, k entries of about 1.4: scores q.k / sqrt(head_dim), times YaRN's mscale^2 (1.30), of a
    #   few units, and sinks drawn over the same range so some heads give them real weight;
    # - expert gate/up pre-activations of spread ~3 so swiglu_oai's clamp at 7 fires now and then;
    # - logits of spread ~6 so most greedy steps have a clear best token.
    #
    # Decisive routing: a random router has a near-tie somewhere in a few hundred decisions, and
    # scaling it does not help (the error of its input scales with it). So the first 2 * n_expert
    # dimensions of the residual stream carry two routing codes: in each, a token's embedding has
    # 4 dimensions at +[0.6, 1.6] * R and 4 at -[0.6, 1.6] * R; attention and experts write
    # little into them (LEAK); layer i's router reads code i % 2 in its own order (expert e <-
    # dimension order[e], weight ROUTE) plus a small random part over every dimension and a small
    # bias. The 4th and 5th logits of a token are then about 1.2 * R * ROUTE / rms(x) apart or
    # more, while the 4 selected ones still differ enough for the softmax weights to be far from
    # one-hot. Codes of different layers are independent, so are their expert sets.
    R, ROUTE, LEAK, n_codes = 2.0, 1.0, 0.05, 2
    n_code = n_codes * E
    embd = normal(rng, (vocab.size, d), 1.0)
    for t in range(vocab.size):
        for c in range(n_codes):
            sign = np.where(rng.permutation(E) < s.n_expert_used, 1.0, -1.0)
            embd[t, c * E:(c + 1) * E] = sign * rng.uniform(0.6, 1.6, E) * R
    w.add_tensor("token_embd.weight", f16(embd))

    def quiet_code(rows: np.ndarray) -> np.ndarray:  # a [d, ...] output: little into the codes
        rows[:n_code] *= LEAK
        return rows

    for i in range(s.n_layer):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", normal(rng, (d,), 0.1, 1.0))
        w.add_tensor(p + "attn_q.weight", f16(normal(rng, (qd, d), 1.4 / np.sqrt(d))))
        w.add_tensor(p + "attn_q.bias", normal(rng, (qd,), 0.5))
        w.add_tensor(p + "attn_k.weight", f16(normal(rng, (kvd, d), 1.4 / np.sqrt(d))))
        w.add_tensor(p + "attn_k.bias", normal(rng, (kvd,), 0.5))
        w.add_tensor(p + "attn_v.weight", f16(normal(rng, (kvd, d), 1.0 / np.sqrt(d))))
        w.add_tensor(p + "attn_v.bias", normal(rng, (kvd,), 0.3))
        w.add_tensor(p + "attn_output.weight", f16(quiet_code(normal(rng, (d, qd), 1.0 / np.sqrt(qd)))))
        w.add_tensor(p + "attn_output.bias", quiet_code(normal(rng, (d,), 0.2)))
        w.add_tensor(p + "attn_sinks.weight", rng.uniform(-1.0, 4.0, (s.n_head,)).astype(np.float32))
        w.add_tensor(p + "post_attention_norm.weight", normal(rng, (d,), 0.1, 1.0))
        router = normal(rng, (E, d), 0.1 / np.sqrt(d))
        router[np.arange(E), (i % n_codes) * E + rng.permutation(E)] += ROUTE
        w.add_tensor(p + "ffn_gate_inp.weight", router)
        w.add_tensor(p + "ffn_gate_inp.bias", normal(rng, (E,), 0.1))
        w.add_tensor(p + "ffn_gate_exps.weight", f16(normal(rng, (E, ff, d), 3.0 / np.sqrt(d))))
        w.add_tensor(p + "ffn_gate_exps.bias", normal(rng, (E, ff), 0.5))
        w.add_tensor(p + "ffn_up_exps.weight", f16(normal(rng, (E, ff, d), 3.0 / np.sqrt(d))))
        w.add_tensor(p + "ffn_up_exps.bias", normal(rng, (E, ff), 0.5))
        down = normal(rng, (E, d, ff), 0.3 / np.sqrt(ff))
        down[:, :n_code] *= LEAK
        w.add_tensor(p + "ffn_down_exps.weight", f16(down))
        down_b = normal(rng, (E, d), 0.2)
        down_b[:, :n_code] *= LEAK
        w.add_tensor(p + "ffn_down_exps.bias", down_b)
    w.add_tensor("output_norm.weight", normal(rng, (d,), 0.1, 1.0))
    w.add_tensor("output.weight", f16(normal(rng, (vocab.size, d), 6.0 / np.sqrt(d))))


@dataclass
class Writer:
    arch: str            # GGUF general.architecture
    specials: list[str]  # special tokens appended to the donor's vocabulary
    write: object        # (GGUFWriter, Generator, Vocab) -> None
    seed: int            # default seed: of the ones tried, the one with most clear greedy steps


WRITERS = {
    # seeds 1..12 all gave routing gaps over 0.4; 1 has the fewest greedy margins under 0.1
    "gpt-oss": Writer("gpt-oss", GPT_OSS_SPECIALS, write_gpt_oss, seed=1),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arch", choices=sorted(WRITERS))
    ap.add_argument("out")
    ap.add_argument("--vocab", required=True, help="donor GGUF with a byte-level BPE (gpt2) vocabulary")
    ap.add_argument("--seed", type=int, help="random seed (default: the entry's)")
    args = ap.parse_args()

    entry = WRITERS[args.arch]
    vocab = donor_vocab(args.vocab, entry.specials)
    rng = np.random.default_rng(entry.seed if args.seed is None else args.seed)
    w = gguf.GGUFWriter(args.out, entry.arch)
    entry.write(w, rng, vocab)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
