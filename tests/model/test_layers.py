"""Building blocks: attention with the lower-right causal mask, the MoE router and experts, RMSNorm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from model.layers import Experts, RMSNorm, Router, SparseMoE, attend
from tests.model import jamba_testkit as kit
from tests.model.jamba_testkit import one_thread  # noqa: F401 (fixture)

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_thread")


def _dense_causal(q, k, v, start):
    """Attention written out in full: query i at position start+i sees keys 0..start+i."""
    g = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
    t, s = q.shape[2], k.shape[2]
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5  # (B, H, T, S)
    visible = torch.arange(s)[None, :] <= torch.arange(t)[:, None] + start
    return torch.softmax(scores.masked_fill(~visible, float("-inf")), -1) @ v


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize(("start", "t", "kv_heads"), [(0, 7, 2), (5, 7, 2), (9, 1, 2), (13, 4, 1), (3, 9, 4)])
def test_attention_chunk_sees_cache_and_itself_causally(start, t, kv_heads, split):
    gen = torch.Generator().manual_seed(start * 31 + t)
    q = torch.randn(2, 4, t, 8, generator=gen)
    k = torch.randn(2, kv_heads, start + t, 8, generator=gen)
    v = torch.randn(2, kv_heads, start + t, 8, generator=gen)
    got = attend(q, k, v, start, split=split)
    assert torch.allclose(got, _dense_causal(q, k, v, start), atol=1e-5)


def test_attention_ignores_cache_rows_past_the_chunk():
    """The KV cache is preallocated; stale rows past start+T must never leak into a chunk's output."""
    cfg = kit.config("moe_attn_p4o2")
    from model.layers import Attention

    attn = kit.randomize_(Attention(cfg), 0)
    x = torch.randn(1, 6, cfg.hidden_size, generator=torch.Generator().manual_seed(1))
    k_cache = torch.full((1, cfg.num_key_value_heads, 32, cfg.head_dim), 1e4)
    v_cache = torch.full_like(k_cache, 1e4)
    with torch.inference_mode():
        a = attn(x[:, :4], (k_cache, v_cache), 0)
        b = attn(x[:, 4:], (k_cache, v_cache), 4)
        full = attn(x)
    assert torch.allclose(torch.cat([a, b], 1), full, atol=1e-5)


def test_router_keeps_softmax_weights_unnormalized():
    cfg = kit.config("moe_every_layer_p5o4")
    router = kit.randomize_(Router(cfg), 0)
    x = torch.randn(50, cfg.hidden_size, generator=torch.Generator().manual_seed(0))
    weights, experts = router(x)
    probs = torch.softmax(x @ router.weight.T, -1)
    assert torch.allclose(weights, probs.gather(1, experts))
    assert weights.sum(-1).mean() < 0.99  # renormalized weights would sum to exactly 1


def test_experts_run_each_token_through_its_own_experts():
    cfg = kit.config("moe_attn_p4o2")
    experts = kit.randomize_(Experts(cfg), 0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(9, cfg.hidden_size, generator=gen)
    idx = torch.stack([torch.randperm(cfg.num_experts, generator=gen)[:2] for _ in range(9)])  # (M, k)
    idx[:, 0] = 0  # expert 0 busy, the others sometimes idle
    w = torch.rand(9, 2, generator=gen)
    want = torch.zeros_like(x)
    for m in range(9):
        for slot in range(2):
            gate_up = experts.gate_up_proj[idx[m, slot]]
            gate, up = (gate_up @ x[m]).chunk(2)
            want[m] += w[m, slot] * (experts.down_proj[idx[m, slot]] @ (F.silu(gate) * up))
    assert torch.allclose(experts(x, w, idx), want, atol=1e-5)


def test_moe_block_matches_transformers():
    from transformers.models.jamba.modeling_jamba import JambaSparseMoeBlock

    cfg = kit.config("moe_attn_p4o2")
    ours = kit.randomize_(SparseMoE(cfg), 5)
    hf = JambaSparseMoeBlock(kit.hf_config(cfg))
    hf.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 11, cfg.hidden_size, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        assert torch.allclose(ours(x), hf(x), atol=1e-6)


def test_rmsnorm_normalizes_in_fp32_for_bf16_inputs():
    norm = RMSNorm(16)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2, 16))
    x = torch.randn(3, 16) * 1e3
    y32 = norm(x)
    assert torch.allclose(y32.pow(2).div(norm.weight**2).mean(-1), torch.ones(3), atol=1e-4)
    y16 = norm.to(torch.bfloat16)(x.to(torch.bfloat16))
    assert y16.dtype == torch.bfloat16 and torch.allclose(y16.float(), y32, rtol=2e-2, atol=2e-2)
