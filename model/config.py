"""Jamba configuration: field names mirror Hugging Face's ``JambaConfig`` so config.json maps across."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from pathlib import Path


class ConfigError(ValueError):
    """A config.json that is missing, unreadable, or not a Jamba config."""


@dataclass(frozen=True)
class JambaConfig:
    vocab_size: int = 65536
    hidden_size: int = 4096
    intermediate_size: int = 14336
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int = 8
    hidden_act: str = "silu"
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    max_position_embeddings: int = 262144
    num_experts: int = 16
    num_experts_per_tok: int = 2
    expert_layer_period: int = 2
    expert_layer_offset: int = 1
    attn_layer_period: int = 8
    attn_layer_offset: int = 4
    mamba_d_state: int = 16
    mamba_d_conv: int = 4
    mamba_expand: int = 2
    mamba_dt_rank: int | str = "auto"  # "auto" = ceil(hidden_size / 16), as in the Mamba paper
    mamba_conv_bias: bool = True
    mamba_proj_bias: bool = False
    initializer_range: float = 0.02
    # Explicit per-layer pattern; when given it wins over the period/offset rule (newer HF configs).
    layers_block_type: tuple[str, ...] | None = None
    # Set by model.tiny on checkpoints it builds: every output of such a model must be labelled.
    docqa_random_weights: bool = False

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError("hidden_size must be a multiple of num_attention_heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ConfigError("num_attention_heads must be a multiple of num_key_value_heads (GQA)")
        if self.layers_block_type is not None:
            object.__setattr__(self, "layers_block_type", tuple(self.layers_block_type))
            if len(self.layers_block_type) != self.num_hidden_layers:
                raise ConfigError("layers_block_type must name one type per layer")

    # ---- derived values -------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def d_inner(self) -> int:
        return self.mamba_expand * self.hidden_size

    @property
    def dt_rank(self) -> int:
        if self.mamba_dt_rank == "auto":
            return math.ceil(self.hidden_size / 16)
        return int(self.mamba_dt_rank)

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        if self.eos_token_id is None:
            return ()
        if isinstance(self.eos_token_id, int):
            return (self.eos_token_id,)
        return tuple(self.eos_token_id)

    def layer_types(self) -> tuple[str, ...]:
        """"attention" or "mamba" for each layer."""
        if self.layers_block_type is not None:
            return self.layers_block_type
        return tuple(
            "attention" if i % self.attn_layer_period == self.attn_layer_offset else "mamba"
            for i in range(self.num_hidden_layers)
        )

    def is_moe_layer(self, i: int) -> bool:
        return self.num_experts > 1 and i % self.expert_layer_period == self.expert_layer_offset

    @property
    def attention_layers(self) -> tuple[int, ...]:
        return tuple(i for i, t in enumerate(self.layer_types()) if t == "attention")

    @property
    def mamba_layers(self) -> tuple[int, ...]:
        return tuple(i for i, t in enumerate(self.layer_types()) if t == "mamba")

    # ---- (de)serialization ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict) -> JambaConfig:
        if d.get("model_type") != "jamba":
            raise ConfigError(f"not a Jamba config: model_type is {d.get('model_type')!r}, expected 'jamba'")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> JambaConfig:
        path = Path(folder) / "config.json"
        if not path.is_file():
            raise ConfigError(f"{path}: no config.json in the checkpoint folder")
        try:
            d = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: unreadable config.json ({e})") from e
        return cls.from_dict(d)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        if d["layers_block_type"] is None:
            del d["layers_block_type"]
        else:
            d["layers_block_type"] = list(d["layers_block_type"])
        d["model_type"] = "jamba"
        d["architectures"] = ["JambaForCausalLM"]
        return d


# Published shapes (see ../shared/DESIGN.md "Reference numbers"); used by the planner and the GPU benchmark.
PRESETS: dict[str, JambaConfig] = {
    "jamba-mini": JambaConfig(mamba_dt_rank=256),
}
