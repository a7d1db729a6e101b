"""The memory planner: what fits on a given GPU, decided before anything is allocated.

Pure functions of (config, dtype, GPU bytes, prefill chunk). Memory for one request of S tokens is

    weights + Mamba state (fixed) + KV cache (S x per-token bytes) + prefill activations + margin

where the KV cache covers the attention layers only (Jamba's point: 16 KiB a token for Jamba Mini in
bf16) and the activations are the largest transient of one chunk of the engine's prefill
(model/jamba.py, model/layers.py, model/mamba.py). ``plan`` solves for the largest S that fits;
``check_request`` refuses a request that does not, with the arithmetic in the message.

    python -m model plan --preset jamba-mini --dtype bfloat16 --gpu-mem 141GB
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import torch

from model.cache import cache_bytes, kv_bytes_per_token
from model.config import JambaConfig
from model.layout import count_parameters

GiB = 1 << 30
# Held back for the CUDA context, the allocator's fragmentation and kernels' workspaces: 1 GiB plus
# 5% of the card, so a plan that fits on paper also fits after hours of mixed request lengths.
MARGIN_FIXED = 1 * GiB
MARGIN_FRACTION = 0.05


class PlanError(ValueError):
    """A request that cannot fit; the message says how much it needs, what the GPU has, and the limit."""


def dtype_of(dtype: torch.dtype | str) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    t = getattr(torch, str(dtype).removeprefix("torch."), None)
    if not isinstance(t, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    return t


def _size(dtype: torch.dtype) -> int:
    return torch.empty((), dtype=dtype).element_size()


def parse_bytes(text: str) -> int:
    """'141GB' (10^9), '139GiB' (2^30), '512MiB', '80e9' -> bytes."""
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([KMGT]?)(i?)B?\s*", text)
    if not m:
        raise ValueError(f"not a memory size: {text!r} (try 141GB or 139GiB)")
    base = 1024 if m[3] else 1000
    power = " KMGT".index(m[2] or " ")
    return int(float(m[1]) * base**power)


# ---- the parts ----------------------------------------------------------------------------------
def weights_bytes(config: JambaConfig, dtype: torch.dtype) -> int:
    """Every parameter in ``dtype``, plus the fp32 A = -exp(A_log) each Mamba mixer derives once."""
    derived = len(config.mamba_layers) * config.d_inner * config.mamba_d_state * 4
    return count_parameters(config) * _size(dtype) + derived


def state_bytes(config: JambaConfig, dtype: torch.dtype) -> int:
    """The Mamba layers' conv and SSM (fp32) state: fixed, whatever the context length."""
    return cache_bytes(config, 1, 0, dtype)


def prefill_activation_bytes(
    config: JambaConfig, dtype: torch.dtype, chunk: int, context: int, flash: bool = True
) -> int:
    """The largest transient of one prefill chunk of ``chunk`` tokens with ``context`` tokens cached.

    Counts what the engine holds at the peak of each layer kind (batch 1); layers run one at a time,
    so the peak is the residual stream plus the largest single layer. ``flash=False`` adds the (T, S)
    attention scores a non-fused attention kernel materializes.
    """
    c, e, t, s = config, _size(dtype), min(chunk, context), context
    h, di, n, r, i = c.hidden_size, c.d_inner, c.mamba_d_state, c.dt_rank, c.intermediate_size
    hq, k, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim
    residual = 3 * t * h * e + 2 * t * h * 4  # x, normed x, layer output; RMSNorm's fp32 copies
    peaks = [c.vocab_size * (e + 4)]  # last-position logits, cast to fp32
    if c.mamba_layers:
        # in_proj out (2Di), contiguous u, conv out, dt (Di each); x_proj out; y in fp32 and in dtype
        peaks.append(t * di * (6 * e + 4) + t * (r + 2 * n) * e)
    if c.attention_layers:
        attn = t * (2 * hq + 2 * k) * d * e  # q, k, v, output of the chunk
        if hq != k:  # GQA: the CUDA path repeats cached K and V to all query heads (model/layers.py)
            attn += 2 * s * hq * d * e
        if not flash:
            attn += t * hq * s * (4 + e)  # fp32 scores and probabilities in dtype
        peaks.append(attn)
    moe = [c.is_moe_layer(j) for j in range(c.num_hidden_layers)]
    if any(moe):
        kk = c.num_experts_per_tok
        # router probs; tokens gathered per slot and their outputs; worst-case expert batch of T tokens
        peaks.append(t * c.num_experts * 4 + 2 * t * kk * h * e + 3 * t * i * e + t * h * e)
    if not all(moe):
        peaks.append(3 * t * i * e + t * h * e)  # dense SwiGLU: gate, up, their product
    return residual + max(peaks)


def margin_bytes(gpu_bytes: int) -> int:
    return MARGIN_FIXED + int(MARGIN_FRACTION * gpu_bytes)


# ---- the plan -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    config: JambaConfig
    dtype: torch.dtype
    gpu_bytes: int
    prefill_chunk: int
    weights_bytes: int
    state_bytes: int
    kv_bytes_per_token: int
    margin_bytes: int
    flash: bool
    max_context: int  # largest prompt + answer length that fits, at most the model's context window
    limited_by: str  # "the model's context window" or "GPU memory"

    def activation_bytes(self, n_tokens: int) -> int:
        return prefill_activation_bytes(self.config, self.dtype, self.prefill_chunk, n_tokens, self.flash)

    def bytes_for(self, n_tokens: int) -> int:
        """Total GPU memory a request of ``n_tokens`` (prompt + answer) needs."""
        return (
            self.weights_bytes
            + self.state_bytes
            + self.kv_bytes_per_token * n_tokens
            + self.activation_bytes(max(1, n_tokens))
            + self.margin_bytes
        )

    def breakdown(self, n_tokens: int) -> str:
        return (
            f"weights {_gib(self.weights_bytes)} + Mamba state {_gib(self.state_bytes)} + KV cache "
            f"{_gib(self.kv_bytes_per_token * n_tokens)} + prefill activations "
            f"{_gib(self.activation_bytes(max(1, n_tokens)))} + margin {_gib(self.margin_bytes)}"
        )

    def __str__(self) -> str:
        window = self.config.max_position_embeddings
        lines = [
            f"GPU memory        {_gib(self.gpu_bytes)} ({self.gpu_bytes:,} bytes), dtype {_name(self.dtype)}",
            f"parameters        {count_parameters(self.config):,}",
            f"weights           {_gib(self.weights_bytes)}",
            f"Mamba state       {_gib(self.state_bytes)} (fixed, {len(self.config.mamba_layers)} layers)",
            f"KV cache          {self.kv_bytes_per_token / 1024:g} KiB per token "
            f"({len(self.config.attention_layers)} attention layers)",
            f"prefill chunk     {self.prefill_chunk:,} tokens",
            f"safety margin     {_gib(self.margin_bytes)}",
        ]
        if self.max_context == 0:
            lines.append(f"max context       0: nothing fits ({self.breakdown(1)})")
        else:
            lines += [
                f"max context       {self.max_context:,} tokens (limited by {self.limited_by}; "
                f"model window {window:,})",
                f"at max context    {self.breakdown(self.max_context)}",
                f"                  = {_gib(self.bytes_for(self.max_context))}",
            ]
        return "\n".join(lines)


def _gib(n: int) -> str:
    """Bytes for people: GiB with two decimals, MiB below 1 GiB so small parts do not read as zero."""
    return f"{n / GiB:.2f} GiB" if n >= GiB else f"{n / (1 << 20):.1f} MiB"


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def plan(
    config: JambaConfig,
    dtype: torch.dtype | str,
    gpu_bytes: int,
    prefill_chunk: int = 2048,
    flash: bool = True,
    margin: int | None = None,
) -> Plan:
    """The largest context (prompt + answer, batch 1) that fits in ``gpu_bytes``, and why it stops there."""
    if prefill_chunk < 1:
        raise ValueError(f"prefill chunk must be >= 1, got {prefill_chunk}")
    dt = dtype_of(dtype)
    p = Plan(
        config=config,
        dtype=dt,
        gpu_bytes=int(gpu_bytes),
        prefill_chunk=prefill_chunk,
        weights_bytes=weights_bytes(config, dt),
        state_bytes=state_bytes(config, dt),
        kv_bytes_per_token=kv_bytes_per_token(config, dt),
        margin_bytes=margin_bytes(gpu_bytes) if margin is None else margin,
        flash=flash,
        max_context=0,
        limited_by="GPU memory",
    )
    window = config.max_position_embeddings
    if p.bytes_for(window) <= gpu_bytes:
        return _with(p, window, "the model's context window")
    lo, hi = 0, window  # bytes_for grows with n: bisect for the last n that fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if p.bytes_for(mid) <= gpu_bytes:
            lo = mid
        else:
            hi = mid - 1
    return _with(p, lo, "GPU memory")


def _with(p: Plan, max_context: int, limited_by: str) -> Plan:
    return replace(p, max_context=max_context, limited_by=limited_by)


def check_request(p: Plan, n_tokens: int) -> None:
    """Raise PlanError when a request of ``n_tokens`` (prompt + answer) cannot run under this plan."""
    if n_tokens <= p.max_context:
        return
    window = p.config.max_position_embeddings
    if n_tokens > window:
        raise PlanError(
            f"request of {n_tokens:,} tokens exceeds the model's context window of {window:,} tokens"
        )
    if p.max_context == 0:
        raise PlanError(
            f"the model does not fit this GPU at all: it needs {p.breakdown(1)} = {_gib(p.bytes_for(1))} "
            f"but the GPU has {_gib(p.gpu_bytes)}"
        )
    raise PlanError(
        f"request of {n_tokens:,} tokens needs {_gib(p.bytes_for(n_tokens))} ({p.breakdown(n_tokens)}) "
        f"but the GPU has {_gib(p.gpu_bytes)}; at most {p.max_context:,} tokens fit in {_name(p.dtype)}"
    )
