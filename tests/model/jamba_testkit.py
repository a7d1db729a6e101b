"""Shared by the network, cache and engine tests: tiny random Jamba models, ours and transformers'."""

from __future__ import annotations

import pytest
import torch

from model.config import JambaConfig
from model.jamba import JambaForCausalLM
from model.ops.dispatch import get_ops

# Three shapes that differ where bugs hide: MoE or not, where attention and experts sit, GQA ratio,
# tied embeddings, biases on the Mamba projections, a dt_rank that is not hidden/16.
CONFIGS = {
    "moe_attn_p4o2": dict(
        num_hidden_layers=6, attn_layer_period=4, attn_layer_offset=2, num_experts=4, num_experts_per_tok=2,
        expert_layer_period=2, expert_layer_offset=1,
    ),
    "dense_attn_p3o0_mqa": dict(
        num_hidden_layers=5, attn_layer_period=3, attn_layer_offset=0, num_experts=1, num_key_value_heads=1,
        mamba_proj_bias=True, mamba_dt_rank=8, tie_word_embeddings=True,
    ),
    "moe_every_layer_p5o4": dict(
        num_hidden_layers=5, attn_layer_period=5, attn_layer_offset=4, num_experts=3, num_experts_per_tok=2,
        expert_layer_period=1, expert_layer_offset=0, mamba_conv_bias=False, mamba_d_conv=3,
    ),
}
BASE = dict(
    vocab_size=101, hidden_size=64, intermediate_size=96, num_attention_heads=4, num_key_value_heads=2,
    mamba_d_state=8, mamba_d_conv=4, mamba_expand=2, max_position_embeddings=256,
)


def config(name: str, **extra) -> JambaConfig:
    return JambaConfig(**{**BASE, **CONFIGS[name], **extra})


def reference_ops():
    """The pure-PyTorch kernels: exact, so network tests see only the network's own error."""
    return get_ops("reference")


@torch.no_grad()
def randomize_(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Weights with real spread, so every parameter (norm gains, D, dt bias, router) moves the logits.

    Default inits leave norms at 1 and the router near-uniform, which would hide swapped or skipped
    parameters; greedy comparisons also need logit gaps far above float noise.
    """
    gen = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        noise = torch.randn(p.shape, generator=gen)
        if name.endswith("A_log"):
            p.copy_(torch.log(torch.rand(p.shape, generator=gen) * 4 + 0.5))
        elif "norm" in name or name.endswith(".D"):
            p.copy_(1 + 0.3 * noise)
        elif name.endswith("dt_proj.bias"):
            p.copy_(-3 + noise)
        else:
            fan_in = p.shape[-1] if p.dim() > 1 else 4
            p.copy_(noise * (1.5 / fan_in**0.5))
    return model


def ours(cfg: JambaConfig, seed: int = 0, ops=None) -> JambaForCausalLM:
    return randomize_(JambaForCausalLM(cfg, ops or reference_ops()), seed).eval()


def hf_config(cfg: JambaConfig):
    import transformers

    d = cfg.to_dict()
    d.pop("layers_block_type", None)
    d = {k: v for k, v in d.items() if k not in ("model_type", "architectures")}
    return transformers.JambaConfig(**d)


def hf_twin(model: JambaForCausalLM):
    """transformers' JambaForCausalLM holding exactly our model's weights (same names, a plain copy)."""
    import transformers

    hf = transformers.JambaForCausalLM(hf_config(model.config)).eval()
    hf.load_state_dict(model.state_dict(), strict=True)
    return hf


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run their ops faster on one thread; on a shared CI box two OpenMP threads can be 50x
    slower, spinning while other processes hold the cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
