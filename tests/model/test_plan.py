"""The memory planner: exact parameter counts, hand-checked bytes, public numbers, clear refusals."""

import pytest
import torch

from model.config import PRESETS, JambaConfig
from model.layout import count_active_parameters, count_parameters
from model.plan import (
    GiB,
    PlanError,
    check_request,
    kv_bytes_per_token,
    parse_bytes,
    plan,
    prefill_activation_bytes,
    state_bytes,
    weights_bytes,
)

MINI = PRESETS["jamba-mini"]

TINY_CONFIGS = [
    JambaConfig(
        vocab_size=300,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=8,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_experts=4,
        attn_layer_period=4,
        attn_layer_offset=2,
    ),
    JambaConfig(
        vocab_size=257,
        hidden_size=32,
        intermediate_size=96,
        num_hidden_layers=4,
        num_attention_heads=2,
        num_key_value_heads=1,
        num_experts=1,
        attn_layer_period=2,
        attn_layer_offset=1,
        mamba_proj_bias=True,
        mamba_conv_bias=False,
        mamba_dt_rank=3,
    ),
    JambaConfig(
        vocab_size=100,
        hidden_size=48,
        intermediate_size=64,
        num_hidden_layers=6,
        num_attention_heads=6,
        num_key_value_heads=6,
        num_experts=3,
        num_experts_per_tok=1,
        expert_layer_period=3,
        expert_layer_offset=0,
        attn_layer_period=3,
        attn_layer_offset=2,
        tie_word_embeddings=True,
    ),
]


@pytest.mark.parametrize("cfg", TINY_CONFIGS)
def test_parameter_count_is_exact_for_built_models(cfg):
    from model.jamba import JambaForCausalLM

    with torch.device("meta"):
        model = JambaForCausalLM(cfg)
    assert count_parameters(cfg) == sum(p.numel() for p in model.parameters())


def test_parameter_count_matches_transformers():
    transformers = pytest.importorskip("transformers")
    cfg = TINY_CONFIGS[0]
    hf = transformers.JambaConfig(**{k: v for k, v in cfg.to_dict().items() if k != "architectures"})
    with torch.device("meta"):
        model = transformers.JambaForCausalLM(hf)
    assert count_parameters(cfg) == sum(p.numel() for p in model.parameters())


def test_jamba_mini_public_numbers():
    assert 51e9 < count_parameters(MINI) < 53e9  # "52B parameters"
    assert 11.5e9 < count_active_parameters(MINI) < 12.5e9  # "12B active"
    # 4 attention layers * (K + V) * 8 KV heads * 128 head dim * 2 bytes = 16 KiB a token
    assert kv_bytes_per_token(MINI, torch.bfloat16) == 4 * 2 * 8 * 128 * 2 == 16 * 1024
    assert kv_bytes_per_token(MINI, torch.bfloat16) * 262144 == 4 * GiB  # "4 GB at 256K"


def test_tiny_bytes_by_hand():
    cfg = TINY_CONFIGS[0]  # 8 layers: attention at 2 and 6, Mamba elsewhere; Di = 128, N = 16, W = 4
    assert kv_bytes_per_token(cfg, torch.float32) == 2 * 2 * 2 * 16 * 4  # layers * (K,V) * heads * D * 4
    assert state_bytes(cfg, torch.float32) == 6 * (128 * 3 * 4 + 128 * 16 * 4)  # conv + fp32 SSM
    assert state_bytes(cfg, torch.bfloat16) == 6 * (128 * 3 * 2 + 128 * 16 * 4)  # SSM state stays fp32
    assert weights_bytes(cfg, torch.bfloat16) == count_parameters(cfg) * 2 + 6 * 128 * 16 * 4


def test_activations_bounded_by_the_chunk_not_the_prompt():
    cfg = TINY_CONFIGS[2]  # no GQA: nothing in a chunk's prefill depends on the cached length
    a = prefill_activation_bytes(cfg, torch.bfloat16, chunk=2048, context=8192)
    assert a == prefill_activation_bytes(cfg, torch.bfloat16, chunk=2048, context=262144)  # no GQA repeat
    assert a < prefill_activation_bytes(cfg, torch.bfloat16, chunk=4096, context=262144)
    # GQA (Jamba Mini): the repeated K/V grow with the context; scores only without a fused kernel
    small = prefill_activation_bytes(MINI, torch.bfloat16, 2048, 131072)
    big = prefill_activation_bytes(MINI, torch.bfloat16, 2048, 262144)
    assert big - small == 2 * (262144 - 131072) * 32 * 128 * 2
    no_flash = prefill_activation_bytes(MINI, torch.bfloat16, 2048, 262144, flash=False)
    assert no_flash - big == 2048 * 32 * 262144 * 6


def test_jamba_mini_fits_256k_on_an_h200_in_bf16():
    p = plan(MINI, "bfloat16", parse_bytes("141GB"))
    assert p.max_context == 262144 and p.limited_by == "the model's context window"
    assert p.bytes_for(262144) <= parse_bytes("141GB")
    assert "262,144 tokens" in str(p) and "16 KiB per token" in str(p)
    check_request(p, 262144)
    with pytest.raises(PlanError, match="exceeds the model's context window of 262,144"):
        check_request(p, 262145)


def test_memory_limited_plan_is_the_exact_boundary():
    p = plan(MINI, "bfloat16", parse_bytes("110GB"))
    assert 0 < p.max_context < 262144 and p.limited_by == "GPU memory"
    assert p.bytes_for(p.max_context) <= p.gpu_bytes < p.bytes_for(p.max_context + 1)
    check_request(p, p.max_context)
    with pytest.raises(
        PlanError, match=r"needs .* GiB \(weights 96\.07 GiB .*KV cache.*\) but the GPU has 102\.45 GiB"
    ):
        check_request(p, p.max_context + 1)


def test_a_model_that_does_not_fit_is_refused_before_allocation():
    p = plan(MINI, "bfloat16", parse_bytes("80GB"))
    assert p.max_context == 0 and "nothing fits" in str(p)
    with pytest.raises(PlanError, match="does not fit this GPU at all.*weights 96.07 GiB"):
        check_request(p, 1000)
    assert plan(MINI, "float32", parse_bytes("141GB")).max_context == 0  # 206 GB of fp32 weights


def test_parse_bytes():
    assert parse_bytes("141GB") == 141 * 10**9
    assert parse_bytes("139GiB") == 139 * 2**30
    assert parse_bytes("512MiB") == 512 * 2**20
    assert parse_bytes("80e9") == 80 * 10**9
    with pytest.raises(ValueError, match="not a memory size"):
        parse_bytes("lots")
