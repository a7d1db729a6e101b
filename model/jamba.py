"""The Jamba network: layers assembled from the config's pattern, run one chunk at a time.

Parameter names and shapes the loader fills (H hidden, I intermediate, E experts, Di = expand * H,
N d_state, R dt_rank, W d_conv, V vocab, Hq/K query/KV heads, D head dim):

| name (prefix model.layers.{i}. on per-layer rows)   | shape            | notes                          |
| ---------------------------------------------------- | ---------------- | ------------------------------ |
| model.embed_tokens.weight                            | (V, H)           |                                |
| input_layernorm.weight, pre_ff_layernorm.weight      | (H,)             | every layer                    |
| self_attn.q_proj.weight                              | (Hq*D, H)        | attention layers               |
| self_attn.k_proj.weight, self_attn.v_proj.weight     | (K*D, H)         | attention layers               |
| self_attn.o_proj.weight                              | (H, Hq*D)        | attention layers               |
| mamba.in_proj.weight (+ .bias)                       | (2Di, H)         | bias iff mamba_proj_bias       |
| mamba.conv1d.weight (+ .bias)                        | (Di, 1, W)       | bias iff mamba_conv_bias       |
| mamba.x_proj.weight                                  | (R+2N, Di)       |                                |
| mamba.dt_proj.weight, mamba.dt_proj.bias             | (Di, R), (Di,)   |                                |
| mamba.A_log, mamba.D                                 | (Di, N), (Di,)   | A = -exp(A_log) derived later  |
| mamba.out_proj.weight (+ .bias)                      | (H, Di)          | bias iff mamba_proj_bias       |
| mamba.dt_layernorm / b_layernorm / c_layernorm .weight | (R,), (N,), (N,) |                              |
| feed_forward.gate_proj.weight, .up_proj.weight       | (I, H)           | dense layers                   |
| feed_forward.down_proj.weight                        | (H, I)           | dense layers                   |
| feed_forward.router.weight                           | (E, H)           | MoE layers                     |
| feed_forward.experts.gate_up_proj                    | (E, 2I, H)       | MoE; gate rows, then up rows   |
| feed_forward.experts.down_proj                       | (E, H, I)        | MoE                            |
| model.final_layernorm.weight                         | (H,)             |                                |
| lm_head.weight                                       | (V, H)           | is embed_tokens.weight if tied |

Published checkpoints store experts one module each (``experts.{j}.gate_proj.weight`` (I, H), ``up_proj``
(I, H), ``down_proj`` (H, I)); the loader stacks them: gate_up_proj[j] = cat(gate_proj[j], up_proj[j]).
The kernel backend (``model.ops``) is chosen once and handed in; the network does not pick one.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from model.cache import HybridCache
from model.config import JambaConfig
from model.layers import Attention, RMSNorm, feed_forward
from model.mamba import MambaMixer

Logits = Literal["all", "last", "none"]


class AttentionLayer(nn.Module):
    def __init__(self, config: JambaConfig, layer: int) -> None:
        super().__init__()
        self.index = layer
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = Attention(config)
        self.pre_ff_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.feed_forward = feed_forward(config, layer)

    def forward(self, x: torch.Tensor, cache: HybridCache | None, start: int) -> torch.Tensor:
        kv = cache.kv(self.index) if cache is not None else None
        x = x + self.self_attn(self.input_layernorm(x), kv, start)
        return x + self.feed_forward(self.pre_ff_layernorm(x))


class MambaLayer(nn.Module):
    def __init__(self, config: JambaConfig, layer: int, ops=None) -> None:
        super().__init__()
        self.index = layer
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mamba = MambaMixer(config, ops)
        self.pre_ff_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.feed_forward = feed_forward(config, layer)

    def forward(self, x: torch.Tensor, cache: HybridCache | None, start: int) -> torch.Tensor:
        state = cache.mamba_state(self.index) if cache is not None else None
        x = x + self.mamba(self.input_layernorm(x), state, start)
        return x + self.feed_forward(self.pre_ff_layernorm(x))


class JambaModel(nn.Module):
    def __init__(self, config: JambaConfig, ops=None) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            AttentionLayer(config, i) if kind == "attention" else MambaLayer(config, i, ops)
            for i, kind in enumerate(config.layer_types())
        )
        self.final_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class JambaForCausalLM(nn.Module):
    """Token ids in, logits out, one chunk at a time.

    ``forward(ids, cache, start)`` runs the chunk ids (B, T) that sit at positions start .. start+T-1:
    attention layers write their keys/values into the cache and attend to everything before; Mamba
    layers continue from the carried state (or from zeros when start is 0). ``logits`` picks what to
    project to the vocabulary: every position, only the last (prefill), or none (a middle chunk), so a
    long prompt never materializes (T, V).
    """

    def __init__(self, config: JambaConfig, ops=None) -> None:
        super().__init__()
        self.config = config
        self.model = JambaModel(config, ops)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def use_ops(self, ops) -> JambaForCausalLM:
        """Hand every Mamba mixer the kernel backend (``model.ops.dispatch.get_ops(...)``)."""
        for m in self.modules():
            if isinstance(m, MambaMixer):
                m.ops = ops
        return self

    def forward(
        self,
        input_ids: torch.Tensor,
        cache: HybridCache | None = None,
        start: int = 0,
        logits: Logits = "all",
    ) -> torch.Tensor | None:
        x = self.model.embed_tokens(input_ids)  # (B, T, H)
        for layer in self.model.layers:
            x = layer(x, cache, start)
        if logits == "none":
            return None
        if logits == "last":
            x = x[:, -1:]
        return self.lm_head(self.model.final_layernorm(x))  # (B, T or 1, V)
