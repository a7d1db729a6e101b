"""The names and shapes of a Jamba checkpoint's tensors, as pure functions of the config.

One source of truth for three users: ``model.tiny`` writes exactly these tensors, ``model.weights``
checks a checkpoint against them before copying anything, and ``model.plan`` counts parameters from
them without building a model. Names are the published (Hugging Face) ones, with experts stored one
module per expert (``feed_forward.experts.{j}.gate_proj.weight``), the layout AI21 ships and that
transformers' ``save_pretrained`` writes back out. The fused layout transformers uses in memory
(``experts.gate_up_proj`` of shape (E, 2I, H), gate rows first) is described by ``fused_expert_shapes``.
"""

from __future__ import annotations

import math

from model.config import JambaConfig

Shape = tuple[int, ...]


def _attention(p: str, c: JambaConfig) -> dict[str, Shape]:
    q_out = c.num_attention_heads * c.head_dim  # H * D
    kv_out = c.num_key_value_heads * c.head_dim  # K * D
    return {
        f"{p}.self_attn.q_proj.weight": (q_out, c.hidden_size),
        f"{p}.self_attn.k_proj.weight": (kv_out, c.hidden_size),
        f"{p}.self_attn.v_proj.weight": (kv_out, c.hidden_size),
        f"{p}.self_attn.o_proj.weight": (c.hidden_size, q_out),
    }


def _mamba(p: str, c: JambaConfig) -> dict[str, Shape]:
    di, n, r, w = c.d_inner, c.mamba_d_state, c.dt_rank, c.mamba_d_conv
    s: dict[str, Shape] = {f"{p}.mamba.in_proj.weight": (2 * di, c.hidden_size)}
    if c.mamba_proj_bias:
        s[f"{p}.mamba.in_proj.bias"] = (2 * di,)
    s[f"{p}.mamba.conv1d.weight"] = (di, 1, w)  # depthwise: one filter of width W per channel
    if c.mamba_conv_bias:
        s[f"{p}.mamba.conv1d.bias"] = (di,)
    s.update(
        {
            f"{p}.mamba.x_proj.weight": (r + 2 * n, di),  # dt, B, C from the conv output
            f"{p}.mamba.dt_proj.weight": (di, r),
            f"{p}.mamba.dt_proj.bias": (di,),
            f"{p}.mamba.A_log": (di, n),
            f"{p}.mamba.D": (di,),
            f"{p}.mamba.out_proj.weight": (c.hidden_size, di),
            f"{p}.mamba.dt_layernorm.weight": (r,),
            f"{p}.mamba.b_layernorm.weight": (n,),
            f"{p}.mamba.c_layernorm.weight": (n,),
        }
    )
    if c.mamba_proj_bias:
        s[f"{p}.mamba.out_proj.bias"] = (c.hidden_size,)
    return s


def _mlp(p: str, c: JambaConfig) -> dict[str, Shape]:
    h, i = c.hidden_size, c.intermediate_size
    return {f"{p}.gate_proj.weight": (i, h), f"{p}.up_proj.weight": (i, h), f"{p}.down_proj.weight": (h, i)}


def _moe(p: str, c: JambaConfig) -> dict[str, Shape]:
    s: dict[str, Shape] = {f"{p}.router.weight": (c.num_experts, c.hidden_size)}
    for j in range(c.num_experts):
        s.update(_mlp(f"{p}.experts.{j}", c))
    return s


def checkpoint_shapes(config: JambaConfig) -> dict[str, Shape]:
    """Every tensor of a published Jamba checkpoint (per-expert layout), in model order."""
    c = config
    shapes: dict[str, Shape] = {"model.embed_tokens.weight": (c.vocab_size, c.hidden_size)}
    for i, kind in enumerate(c.layer_types()):
        p = f"model.layers.{i}"
        shapes[f"{p}.input_layernorm.weight"] = (c.hidden_size,)
        shapes.update(_attention(p, c) if kind == "attention" else _mamba(p, c))
        shapes[f"{p}.pre_ff_layernorm.weight"] = (c.hidden_size,)
        ff = f"{p}.feed_forward"
        shapes.update(_moe(ff, c) if c.is_moe_layer(i) else _mlp(ff, c))
    shapes["model.final_layernorm.weight"] = (c.hidden_size,)
    if not c.tie_word_embeddings:
        shapes["lm_head.weight"] = (c.vocab_size, c.hidden_size)
    return shapes


def fused_expert_shapes(config: JambaConfig, layer: int) -> dict[str, Shape]:
    """The two stacked expert tensors of an MoE layer in transformers' fused layout."""
    c = config
    p = f"model.layers.{layer}.feed_forward.experts"
    return {
        f"{p}.gate_up_proj": (c.num_experts, 2 * c.intermediate_size, c.hidden_size),  # (E, 2I, H)
        f"{p}.down_proj": (c.num_experts, c.hidden_size, c.intermediate_size),  # (E, H, I)
    }


def count_parameters(config: JambaConfig) -> int:
    """Total parameters of the model, exactly (the sum of the checkpoint's tensor sizes)."""
    return sum(math.prod(s) for s in checkpoint_shapes(config).values())


def count_active_parameters(config: JambaConfig) -> int:
    """Parameters one token touches: all but the experts its router does not pick."""
    c = config
    n_moe = sum(c.is_moe_layer(i) for i in range(c.num_hidden_layers))
    idle = c.num_experts - c.num_experts_per_tok
    return count_parameters(config) - n_moe * idle * 3 * c.hidden_size * c.intermediate_size
