"""The hybrid cache: keys/values for the attention layers only, conv + SSM state for the Mamba layers.

This is why Jamba fits long prompts: of Jamba Mini's 32 layers only 4 keep per-token state (16 KiB a
token in bf16), while each Mamba layer keeps a fixed ~0.5 MiB whatever the length. Shapes and bytes are
pure functions of the config, so ``model.plan`` can size a request before anything is allocated.
The cache does not count tokens: callers pass positions explicitly to the model.
"""

from __future__ import annotations

import torch

from model.config import JambaConfig


def kv_shape(config: JambaConfig, batch: int, max_len: int) -> tuple[int, int, int, int]:
    """One attention layer's key (or value) cache: (B, K, S_max, D)."""
    return (batch, config.num_key_value_heads, max_len, config.head_dim)


def conv_state_shape(config: JambaConfig, batch: int) -> tuple[int, int, int]:
    """One Mamba layer's conv state, the last W-1 conv inputs: (B, Di, W-1)."""
    return (batch, config.d_inner, config.mamba_d_conv - 1)


def ssm_state_shape(config: JambaConfig, batch: int) -> tuple[int, int, int]:
    """One Mamba layer's SSM state: (B, Di, N)."""
    return (batch, config.d_inner, config.mamba_d_state)


def _nbytes(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    n = 1
    for s in shape:
        n *= s
    return n * torch.empty((), dtype=dtype).element_size()


def cache_bytes(
    config: JambaConfig, batch: int, max_len: int, dtype: torch.dtype, ssm_dtype: torch.dtype = torch.float32
) -> int:
    """Bytes ``HybridCache(config, batch, max_len, dtype=dtype, ssm_dtype=ssm_dtype)`` allocates."""
    n_attn, n_mamba = len(config.attention_layers), len(config.mamba_layers)
    kv = 2 * n_attn * _nbytes(kv_shape(config, batch, max_len), dtype)
    conv = n_mamba * _nbytes(conv_state_shape(config, batch), dtype)
    ssm = n_mamba * _nbytes(ssm_state_shape(config, batch), ssm_dtype)
    return kv + conv + ssm


def kv_bytes_per_token(config: JambaConfig, dtype: torch.dtype) -> int:
    """What one more token of context costs (batch 1): the K and V rows of every attention layer."""
    return 2 * len(config.attention_layers) * _nbytes(kv_shape(config, 1, 1), dtype)


class HybridCache:
    """Preallocated per-layer state for one batch of sequences of at most ``max_len`` tokens.

    The SSM state is fp32 by default: it accumulates over the whole prompt, and bf16 rounding there
    compounds over 100K+ steps, while it costs only Di * N * 4 bytes per layer.
    """

    def __init__(
        self,
        config: JambaConfig,
        batch: int,
        max_len: int,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        ssm_dtype: torch.dtype = torch.float32,
    ) -> None:
        self.config, self.batch, self.max_len = config, batch, max_len
        self.dtype, self.ssm_dtype = dtype, ssm_dtype
        shape = kv_shape(config, batch, max_len)
        # KV rows past the written positions are never read, so no need to pay for zero-filling GBs.
        self.keys = {i: torch.empty(shape, device=device, dtype=dtype) for i in config.attention_layers}
        self.values = {i: torch.empty(shape, device=device, dtype=dtype) for i in config.attention_layers}
        conv, ssm = conv_state_shape(config, batch), ssm_state_shape(config, batch)
        self.conv = {i: torch.zeros(conv, device=device, dtype=dtype) for i in config.mamba_layers}
        self.ssm = {i: torch.zeros(ssm, device=device, dtype=ssm_dtype) for i in config.mamba_layers}

    def kv(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.keys[layer], self.values[layer]

    def mamba_state(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.conv[layer], self.ssm[layer]

    @property
    def nbytes(self) -> int:
        tensors = [*self.keys.values(), *self.values.values(), *self.conv.values(), *self.ssm.values()]
        return sum(t.numel() * t.element_size() for t in tensors)
