"""The hybrid cache: planned sizes, and "step by step equals all at once" through it."""

from __future__ import annotations

import pytest
import torch

from model.cache import (
    HybridCache,
    cache_bytes,
    conv_state_shape,
    kv_bytes_per_token,
    kv_shape,
    ssm_state_shape,
)
from model.config import PRESETS
from tests.model import jamba_testkit as kit
from tests.model.jamba_testkit import one_thread  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("one_thread")

T = 23


@pytest.fixture(scope="module", params=sorted(kit.CONFIGS))
def setup(request):
    cfg = kit.config(request.param)
    model = kit.ours(cfg, seed=7)
    ids = torch.randint(0, cfg.vocab_size, (2, T), generator=torch.Generator().manual_seed(8))
    with torch.inference_mode():
        full = model(ids)  # (B, T, V): one pass, no cache
    return cfg, model, ids, full


def test_state_only_where_each_layer_needs_it():
    cfg = kit.config("moe_attn_p4o2")
    cache = HybridCache(cfg, batch=2, max_len=40)
    assert set(cache.keys) == set(cfg.attention_layers) == {2}
    assert set(cache.conv) == set(cache.ssm) == set(cfg.mamba_layers)
    assert cache.keys[2].shape == kv_shape(cfg, 2, 40) == (2, 2, 40, 16)
    assert cache.conv[0].shape == conv_state_shape(cfg, 2) == (2, 128, 3)
    assert cache.ssm[0].shape == ssm_state_shape(cfg, 2) == (2, 128, 8)
    assert cache.ssm[0].dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_planned_bytes_equal_allocated_bytes(dtype):
    cfg = kit.config("dense_attn_p3o0_mqa")
    cache = HybridCache(cfg, batch=3, max_len=57, dtype=dtype)
    assert cache.nbytes == cache_bytes(cfg, 3, 57, dtype)
    assert cache.ssm[1].dtype == torch.float32 and cache.conv[1].dtype == dtype


def test_jamba_mini_kv_cache_is_16_kib_per_token():
    """The number DESIGN.md builds on: 4 attention layers x 8 KV heads x 128 dims x K,V x bf16."""
    cfg = PRESETS["jamba-mini"]
    assert kv_bytes_per_token(cfg, torch.bfloat16) == 16 * 1024
    assert cache_bytes(cfg, 1, 256 * 1024, torch.bfloat16) < 4.1 * 2**30


@pytest.mark.parametrize("chunk", [1, 2, 5, 7, 16, T])
def test_chunked_prefill_equals_one_shot(setup, chunk):
    cfg, model, ids, full = setup
    cache = HybridCache(cfg, 2, T)
    outs = []
    with torch.inference_mode():
        for s in range(0, T, chunk):
            outs.append(model(ids[:, s : s + chunk], cache, s))
    assert (torch.cat(outs, 1) - full).abs().max().item() <= 1e-4


def test_token_by_token_decode_equals_full_forward(setup):
    cfg, model, ids, full = setup
    cache = HybridCache(cfg, 2, T + 3)
    with torch.inference_mode():
        first = model(ids[:, :6], cache, 0, logits="last")  # prefill, then the recurrent decode path
        steps = [model(ids[:, i : i + 1], cache, i) for i in range(6, T)]
    assert (first[:, 0] - full[:, 5]).abs().max().item() <= 1e-4
    assert (torch.cat(steps, 1) - full[:, 6:]).abs().max().item() <= 1e-4


def test_a_reused_cache_starts_fresh_at_position_zero(setup):
    """Position 0 means a new sequence: whatever an earlier request left in the cache is ignored."""
    cfg, model, ids, full = setup
    cache = HybridCache(cfg, 2, T)
    with torch.inference_mode():
        model(ids.flip(1), cache, 0)  # dirty every state with another sequence
        one = model(ids[:, :1], cache, 0)  # a one-token prompt takes the decode path
        rest = model(ids[:, 1:], cache, 1)
    assert (torch.cat([one, rest], 1) - full).abs().max().item() <= 1e-4


def test_logits_last_and_none_skip_the_vocabulary_projection(setup):
    cfg, model, ids, full = setup
    with torch.inference_mode():
        assert model(ids, HybridCache(cfg, 2, T), 0, logits="none") is None
        last = model(ids, HybridCache(cfg, 2, T), 0, logits="last")
    assert last.shape == (2, 1, cfg.vocab_size)
    assert torch.allclose(last[:, 0], full[:, -1], atol=1e-5)


def test_a_chunk_past_the_preallocated_length_is_refused(setup):
    cfg, model, ids, _ = setup
    if not cfg.attention_layers:
        pytest.skip("no KV cache in this config")
    with torch.inference_mode(), pytest.raises(ValueError, match="KV cache holds 10 tokens"):
        model(ids[:, :12], HybridCache(cfg, 2, 10), 0)
