#!/usr/bin/env python3
"""An exact float64 forward pass over a GGUF model's dequantized weights, independent of llama.cpp's
graph, on the prompt tokens of a llama.cpp dump, written as <file>.pN.exact.json (the layout of
../shared/fixtures/models/*.exact.json: model, prompt, n_vocab, prompt_tokens, prompt_logits,
experts) and compared with that dump.

    exact.py ARCH MODEL.gguf DUMP.json OUT.exact.json

It checks the facts the fixtures rest on (YaRN, sliding window, sinks, gating, swiglu_oai) against
llama.cpp's numbers: the comparison line (mean KL of the softmax per position, largest logit
difference, positions with the same best token, tokens x layers with the same expert set) goes to
stderr, and the exit status is 3 when the expert sets or the best tokens where the margin is clear
disagree. Needs numpy and the gguf package of the llama.cpp tree (its dequantizers); the
architecture's forward pass is written here, one function an entry.
"""
from __future__ import annotations

import json
import math
import sys

import numpy as np

import gguf


class Model:
    def __init__(self, path: str):
        self.reader = gguf.GGUFReader(path)
        self.arch = self.reader.fields["general.architecture"].contents()
        self.tensors = {t.name: t for t in self.reader.tensors}

    def key(self, name: str, default=None):
        f = self.reader.fields.get(name.replace("{arch}", self.arch))
        return default if f is None else f.contents()

    def weight(self, name: str) -> np.ndarray:
        t = self.tensors[name]
        return gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64)


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def yarn_neox(x: np.ndarray, pos: np.ndarray, base: float, factor: float, n_orig: int,
              beta_fast: float = 32.0, beta_slow: float = 1.0) -> np.ndarray:
    """RoPE, NEOX pairing (i, i + n/2), with YaRN as llama.cpp applies it: ext_factor 1, the
    correction dims floored/ceiled and clamped to [0, n - 1], the ramp mixing extrapolated and
    interpolated angles, and the magnitude 1 + 0.1 ln(factor) on cos and sin (llama_context sets
    attn_factor so that the product is exactly this)."""
    n = x.shape[-1]
    corr = lambda beta: n * math.log(n_orig / (beta * 2 * math.pi)) / (2 * math.log(base))  # noqa: E731
    low, high = max(0.0, math.floor(corr(beta_fast))), min(n - 1.0, math.ceil(corr(beta_slow)))
    i = np.arange(n // 2)
    extrap = pos[:, None] * base ** (-2.0 * i / n)[None, :]
    interp = extrap / factor
    ramp = 1 - np.clip((i - low) / max(0.001, high - low), 0, 1)
    theta = interp * (1 - ramp) + extrap * ramp
    mscale = 1 + 0.1 * math.log(factor)
    cos, sin = np.cos(theta) * mscale, np.sin(theta) * mscale  # [T, n/2]
    a, b = x[..., : n // 2], x[..., n // 2:]
    cos, sin = cos[:, None, :], sin[:, None, :]  # broadcast over heads: x is [T, heads, n]
    return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)


def gpt_oss(m: Model, tokens: list[int]) -> tuple[np.ndarray, dict[str, list[list[int]]]]:
    n_layer = m.key("{arch}.block_count")
    n_head, n_kv = m.key("{arch}.attention.head_count"), m.key("{arch}.attention.head_count_kv")
    hd = m.key("{arch}.attention.key_length")
    eps = m.key("{arch}.attention.layer_norm_rms_epsilon")
    n_swa = m.key("{arch}.attention.sliding_window")
    k_used = m.key("{arch}.expert_used_count")
    base = m.key("{arch}.rope.freq_base")
    factor = m.key("{arch}.rope.scaling.factor", 1.0)
    n_orig = m.key("{arch}.rope.scaling.original_context_length")
    assert m.key("{arch}.rope.scaling.type") == "yarn"

    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    x = m.weight("token_embd.weight")[tokens]
    experts: dict[str, list[list[int]]] = {}
    causal = np.tril(np.ones((T, T), dtype=bool))
    window = causal & (pos[:, None] - pos[None, :] < n_swa)
    for il in range(n_layer):
        p = f"blk.{il}."
        W = lambda name: m.weight(p + name)  # noqa: E731
        # attention with biases, sinks; even layers slide (llama.cpp: swa pattern 2, dense last)
        h = rms_norm(x, W("attn_norm.weight"), eps)
        q = (h @ W("attn_q.weight").T + W("attn_q.bias")).reshape(T, n_head, hd)
        k = (h @ W("attn_k.weight").T + W("attn_k.bias")).reshape(T, n_kv, hd)
        v = (h @ W("attn_v.weight").T + W("attn_v.bias")).reshape(T, n_kv, hd)
        q, k = yarn_neox(q, pos, base, factor, n_orig), yarn_neox(k, pos, base, factor, n_orig)
        mask = window if il % 2 == 0 else causal
        sinks = W("attn_sinks.weight")
        out = np.zeros((T, n_head, hd))
        for hh in range(n_head):
            kv = hh // (n_head // n_kv)
            s = (q[:, hh] @ k[:, kv].T) / math.sqrt(hd)
            s = np.where(mask, s, -np.inf)
            top = np.maximum(s.max(axis=1), sinks[hh])
            e = np.exp(s - top[:, None])
            pr = e / (e.sum(axis=1) + np.exp(sinks[hh] - top))[:, None]
            out[:, hh] = pr @ v[:, kv]
        x = x + out.reshape(T, n_head * hd) @ W("attn_output.weight").T + W("attn_output.bias")
        # MoE: top-k of the biased router logits, softmax over the k selected, swiglu_oai experts
        h = rms_norm(x, W("post_attention_norm.weight"), eps)
        logits = h @ W("ffn_gate_inp.weight").T + W("ffn_gate_inp.bias")
        gate_w, gate_b = W("ffn_gate_exps.weight"), W("ffn_gate_exps.bias")
        up_w, up_b = W("ffn_up_exps.weight"), W("ffn_up_exps.bias")
        down_w, down_b = W("ffn_down_exps.weight"), W("ffn_down_exps.bias")
        moe = np.zeros_like(x)
        chosen = []
        for t in range(T):
            sel = np.argsort(-logits[t], kind="stable")[:k_used]
            chosen.append([int(e) for e in sel])
            wts = np.exp(logits[t, sel] - logits[t, sel].max())
            wts /= wts.sum()
            for e, wt in zip(sel, wts):
                g = np.minimum(h[t] @ gate_w[e].T + gate_b[e], 7.0)
                u = np.clip(h[t] @ up_w[e].T + up_b[e], -7.0, 7.0)
                act = g / (1 + np.exp(-1.702 * g)) * (u + 1)
                moe[t] += wt * (act @ down_w[e].T + down_b[e])
        experts[f"ffn_moe_topk-{il}"] = chosen
        x = x + moe
    return rms_norm(x, m.weight("output_norm.weight"), eps) @ m.weight("output.weight").T, experts


FORWARD = {"gpt-oss": gpt_oss}


def log_softmax(v: np.ndarray) -> np.ndarray:
    v = v - v.max(axis=-1, keepdims=True)
    return v - np.log(np.exp(v).sum(axis=-1, keepdims=True))


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    arch, model_path, dump_path, out_path = sys.argv[1:]
    m = Model(model_path)
    if m.arch != arch:
        sys.exit(f"exact: {model_path} is {m.arch}, not {arch}")
    dump = json.load(open(dump_path))
    tokens = dump["prompt_tokens"]
    logits, experts = FORWARD[arch](m, tokens)

    num = lambda v: format(float(v), ".7g")  # noqa: E731
    rows = ", ".join("[" + ", ".join(num(v) for v in r) + "]" for r in logits)
    sets = ", ".join(f'"{k}": {json.dumps(v)}' for k, v in experts.items())
    with open(out_path, "w") as f:
        f.write(f'{{"model": {json.dumps(dump["model"])}, "prompt": {json.dumps(dump["prompt"])}, '
                f'"n_vocab": {logits.shape[1]}, "prompt_tokens": {json.dumps(tokens)}, '
                f'"prompt_logits": [{rows}], "experts": {{{sets}}}}}\n')

    ref = np.array(dump["prompt_logits"], dtype=np.float64)
    lp, lq = log_softmax(logits), log_softmax(ref)  # KL(exact || llama.cpp)
    kl = (np.exp(lp) * (lp - lq)).sum(axis=1)
    top2 = np.sort(logits, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) >= 0.1
    same_top1 = (logits.argmax(axis=1) == ref.argmax(axis=1))
    pairs = [(set(a), set(b)) for k in experts for a, b in zip(experts[k], dump["experts"][k])]
    same_sets = sum(a == b for a, b in pairs)
    print(f"{out_path}: vs llama.cpp mean KL {kl.mean():.3g} (max {kl.max():.3g}), max |logit diff| "
          f"{np.abs(logits - ref).max():.3g}, best token {int(same_top1[clear].sum())}/{int(clear.sum())} "
          f"clear positions, expert sets {same_sets}/{len(pairs)}", file=sys.stderr)
    if same_sets != len(pairs) or not same_top1[clear].all():
        sys.exit(3)


if __name__ == "__main__":
    main()
