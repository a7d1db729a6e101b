"""Jamba's building blocks other than the Mamba mixer: RMSNorm, dense MLP, mixture of experts, attention.

Attribute names equal the Hugging Face checkpoint names (``q_proj``, ``router``, ``gate_up_proj`` …),
so loading weights is a plain copy. Every forward works on one chunk of T tokens at an explicit
position; nothing here keeps state between calls (state lives in ``model.cache``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention.bias import causal_lower_right

from model.config import ConfigError, JambaConfig

ACTIVATIONS = {"silu": F.silu, "gelu": F.gelu, "relu": F.relu}


def activation(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(f"unsupported hidden_act {name!r}; expected one of {sorted(ACTIVATIONS)}") from None


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.variance_epsilon = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Statistics in fp32 even for bf16 activations; the weight multiplies after the cast back, as in HF.
        dtype = x.dtype
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x32.to(dtype)


class MLP(nn.Module):
    """SwiGLU feed-forward: down(act(gate(x)) * up(x))."""

    def __init__(self, config: JambaConfig) -> None:
        super().__init__()
        h, i = config.hidden_size, config.intermediate_size
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)
        self.act = activation(config.hidden_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class Router(nn.Module):
    """Top-k of the softmax over experts. The k weights are NOT renormalized to sum to 1 (Jamba, as in HF)."""

    def __init__(self, config: JambaConfig) -> None:
        super().__init__()
        self.top_k = config.num_experts_per_tok
        self.weight = nn.Parameter(torch.empty(config.num_experts, config.hidden_size))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs = torch.softmax(F.linear(x, self.weight), dim=-1, dtype=torch.float32)  # (M, E)
        weights, experts = torch.topk(probs, self.top_k, dim=-1)  # (M, k) each
        return weights.to(x.dtype), experts


class Experts(nn.Module):
    """All experts' weights stacked, so routing indexes one tensor instead of E modules.

    gate_up_proj: (E, 2I, H), gate rows first; down_proj: (E, H, I) — transformers' fused layout.
    """

    def __init__(self, config: JambaConfig) -> None:
        super().__init__()
        e, h, i = config.num_experts, config.hidden_size, config.intermediate_size
        self.gate_up_proj = nn.Parameter(torch.empty(e, 2 * i, h))
        self.down_proj = nn.Parameter(torch.empty(e, h, i))
        self.act = activation(config.hidden_act)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
        """x (M, H); weights, experts (M, k). Each expert runs only on the tokens routed to it."""
        m, k = experts.shape
        flat = experts.reshape(-1)  # (M*k,) expert of each (token, slot)
        order = torch.argsort(flat, stable=True)
        token = order // k  # source token of each sorted slot
        counts = torch.bincount(flat, minlength=self.gate_up_proj.shape[0]).tolist()
        xs = x.index_select(0, token)  # (M*k, H), grouped by expert
        ys = torch.empty_like(xs)
        lo = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            gate, up = F.linear(xs[lo : lo + n], self.gate_up_proj[e]).chunk(2, dim=-1)
            ys[lo : lo + n] = F.linear(self.act(gate) * up, self.down_proj[e])
            lo += n
        ys = ys * weights.reshape(-1, 1).index_select(0, order)
        return torch.zeros_like(x).index_add_(0, token, ys)


class SparseMoE(nn.Module):
    def __init__(self, config: JambaConfig) -> None:
        super().__init__()
        self.router = Router(config)
        self.experts = Experts(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        flat = x.reshape(b * t, h)  # (M, H)
        weights, experts = self.router(flat)
        return self.experts(flat, weights, experts).view(b, t, h)


def feed_forward(config: JambaConfig, layer: int) -> nn.Module:
    return SparseMoE(config) if config.is_moe_layer(layer) else MLP(config)


# ---- attention --------------------------------------------------------------------------------------
# The CPU flash kernel returns the log-sum-exp, which lets a chunk attend to the cached prefix (no mask)
# and to itself (square causal) separately and merge exactly: 3x faster than a dense (T, S) mask at 64K
# and no (T, S) float mask in memory. Elsewhere (CUDA) SDPA takes a lower-right CausalBias directly.
_cpu_flash = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def _expand_kv(x: torch.Tensor, groups: int) -> torch.Tensor:
    return x if groups == 1 else x.repeat_interleave(groups, dim=1)  # (B, K, S, D) -> (B, H, S, D)


def _attend_split_cpu(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, start: int) -> torch.Tensor:
    """Lower-right causal attention of a chunk at offset ``start`` as prefix part + chunk part."""
    b, h, t, d = q.shape
    kh = k.shape[1]
    g = h // kh
    # Prefix: every cached key is visible to every query; fold the G query heads of a KV head into the
    # length axis so the cache is read as is, never expanded.
    o1, l1 = _cpu_flash(q.reshape(b, kh, g * t, d), k[:, :, :start], v[:, :, :start])[:2]
    o1, l1 = o1.reshape(b, h, t, d), l1.reshape(b, h, t)
    # Chunk against itself: a square causal mask, small enough to expand K/V to all heads.
    kc, vc = _expand_kv(k[:, :, start:], g), _expand_kv(v[:, :, start:], g)
    o2, l2 = _cpu_flash(q, kc, vc, is_causal=True)[:2]
    m = torch.maximum(l1, l2)
    w1, w2 = (l1 - m).exp_(), (l2 - m).exp_()  # (B, H, T) fp32
    out = (o1.float() * w1[..., None] + o2.float() * w2[..., None]) / (w1 + w2)[..., None]
    return out.to(q.dtype)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, start: int, split: bool | None = None):
    """Causal attention of a chunk's queries (B, H, T, D) over keys/values (B, K, start + T, D).

    Query i of the chunk sits at position start + i and sees keys 0..start + i (the causal mask aligned
    to the lower right). ``split`` forces (True) or forbids (False) the CPU prefix/chunk split.
    """
    b, h, t, d = q.shape
    kh, s = k.shape[1], k.shape[2]
    if t == 1:  # decode: all keys visible; fold the G heads of a group into the length axis, no KV copy
        out = F.scaled_dot_product_attention(q.reshape(b, kh, h // kh, d), k, v)  # (B, K, G, D)
        return out.reshape(b, h, 1, d)
    if start == 0:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    if split is None:
        split = q.device.type == "cpu" and _cpu_flash is not None
    if split:
        return _attend_split_cpu(q, k, v, start)
    k, v = _expand_kv(k, h // kh), _expand_kv(v, h // kh)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(t, s))


class Attention(nn.Module):
    """Grouped-query attention with no positional embedding (Jamba's Mamba layers carry position)."""

    def __init__(self, config: JambaConfig) -> None:
        super().__init__()
        h, d = config.hidden_size, config.head_dim
        self.n_heads, self.n_kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = d
        self.q_proj = nn.Linear(h, self.n_heads * d, bias=False)
        self.k_proj = nn.Linear(h, self.n_kv_heads * d, bias=False)
        self.v_proj = nn.Linear(h, self.n_kv_heads * d, bias=False)
        self.o_proj = nn.Linear(self.n_heads * d, h, bias=False)

    def forward(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor] | None = None, start: int = 0):
        """x (B, T, hidden); kv = preallocated (B, K, S_max, D) key and value caches, written in place."""
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = self.k_proj(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, K, T, D)
        v = self.v_proj(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, K, T, D)
        if kv is not None:
            # cache timeline:  | 0 .. start (cached) | start .. start+T (this chunk) | .. S_max (empty) |
            k_cache, v_cache = kv
            if start + t > k_cache.shape[2]:
                raise ValueError(f"KV cache holds {k_cache.shape[2]} tokens; chunk ends at {start + t}")
            k_cache[:, :, start : start + t] = k
            v_cache[:, :, start : start + t] = v
            k, v = k_cache[:, :, : start + t], v_cache[:, :, : start + t]
        elif start:
            raise ValueError("attention at a nonzero position needs the KV cache")
        out = attend(q, k, v, start)  # (B, H, T, D)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim))
