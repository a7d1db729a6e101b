"""Our Jamba network against transformers' JambaForCausalLM: same weights, same logits, same greedy text."""

from __future__ import annotations

import shutil

import pytest
import torch

from model.engine import Engine
from model.sampling import SamplingParams
from tests.model import jamba_testkit as kit
from tests.model.jamba_testkit import one_thread  # noqa: F401 (fixture)

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.usefixtures("one_thread")


def _greedy_hf(hf, ids: list[int], n: int, eos: int) -> list[int]:
    ids_t = torch.tensor([ids])
    out = hf.generate(ids_t, max_new_tokens=n, do_sample=False, eos_token_id=eos, pad_token_id=0)
    new = out[0, len(ids) :].tolist()
    return new[: new.index(eos)] if eos in new else new  # our engine does not yield the EOS token


@pytest.mark.parametrize("name", sorted(kit.CONFIGS))
def test_logits_match_transformers(name):
    cfg = kit.config(name)
    ours = kit.ours(cfg, seed=1)
    hf = kit.hf_twin(ours)
    ids = torch.randint(0, cfg.vocab_size, (2, 19), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = hf(ids).logits
    got = ours(ids)
    assert want.abs().max() > 1.0  # logits with real spread: a wrong weight could not hide
    assert (got - want).abs().max().item() <= 1e-4


@pytest.mark.parametrize("name", sorted(kit.CONFIGS))
def test_greedy_generation_matches_transformers(name):
    cfg = kit.config(name)
    ours = kit.ours(cfg, seed=3)
    hf = kit.hf_twin(ours)
    engine = Engine(ours, tokenizer=None, config=cfg)
    prompt = torch.randint(3, cfg.vocab_size, (13,), generator=torch.Generator().manual_seed(4)).tolist()
    want = _greedy_hf(hf, prompt, 10, cfg.eos_token_ids[0])
    got = list(engine.generate(prompt, SamplingParams(max_tokens=10), prefill_chunk=5))
    assert got == want
    assert len(set(got)) > 1  # a model stuck on one token would make the comparison weak


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    """A checkpoint folder written by transformers itself (its expert layout), with a chat tokenizer."""
    from model.tiny import build_tiny_checkpoint

    root = tmp_path_factory.mktemp("vs_hf")
    base = build_tiny_checkpoint(root / "base", seed=0, hidden_size=32, intermediate_size=48)
    hf = kit.randomize_(transformers.JambaForCausalLM.from_pretrained(base), seed=9).eval()
    out = root / "saved"
    hf.save_pretrained(out)
    for f in base.glob("*token*"):
        shutil.copy(f, out / f.name)
    return out, hf


def test_engine_load_of_a_transformers_checkpoint_matches_transformers(saved_checkpoint):
    folder, hf = saved_checkpoint
    engine = Engine.load(folder, kernels="reference")
    assert engine.random_weights and engine.context_window == hf.config.max_position_embeddings
    prompt = engine.encode_chat([{"role": "user", "content": "Metformin dose when eGFR is 40?"}])
    with torch.no_grad():
        want = hf(torch.tensor([prompt])).logits[0, -1]
    got = engine.prefill(prompt, engine.new_cache(len(prompt)), chunk=7)[0]
    assert (got - want).abs().max().item() <= 1e-4
    eos = engine.config.eos_token_ids[0]
    assert list(engine.generate(prompt, SamplingParams(max_tokens=8), prefill_chunk=4)) == _greedy_hf(
        hf, prompt, 8, eos
    )
