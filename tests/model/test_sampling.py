"""Sampling: greedy, temperature, top-p, seeds, and parameter validation."""

from __future__ import annotations

import pytest
import torch

from model.sampling import Sampler, SamplingParams, top_p_filter

LOGITS = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.07, 0.03]]))


def _draws(params: SamplingParams, n: int = 2000) -> torch.Tensor:
    sampler = Sampler(params)
    return torch.cat([sampler(LOGITS) for _ in range(n)])


def test_greedy_is_argmax_per_row():
    logits = torch.tensor([[0.1, 3.0, -1.0], [2.0, 0.0, 1.9]])
    assert Sampler(SamplingParams())(logits).tolist() == [1, 0]


def test_same_seed_same_tokens_other_seed_other_tokens():
    p = SamplingParams(temperature=1.0, seed=11)
    a, b = _draws(p, 200), _draws(p, 200)
    c = _draws(SamplingParams(temperature=1.0, seed=12), 200)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_top_p_draws_only_from_the_nucleus_in_proportion():
    # mass 0.5 + 0.25 = 0.75 < 0.8, so the nucleus also needs 0.15: tokens {0, 1, 2}
    draws = _draws(SamplingParams(temperature=1.0, top_p=0.8, seed=0), 4000)
    assert set(draws.tolist()) == {0, 1, 2}
    freq = torch.bincount(draws, minlength=5).float() / len(draws)
    assert torch.allclose(freq[:3], torch.tensor([0.5, 0.25, 0.15]) / 0.9, atol=0.03)


def test_top_p_keeps_the_best_token_even_for_tiny_p():
    probs = torch.softmax(LOGITS, -1)
    kept = top_p_filter(probs, 1e-6)
    assert kept[0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert torch.equal(top_p_filter(probs, 1.0), probs)


def test_temperature_sharpens_and_flattens():
    cold = torch.bincount(_draws(SamplingParams(temperature=0.3, seed=1)), minlength=5)
    hot = torch.bincount(_draws(SamplingParams(temperature=3.0, seed=1)), minlength=5)
    assert cold[0] > 0.85 * 2000 and hot[0] < 0.4 * 2000 and hot[4] > cold[4]


@pytest.mark.parametrize(
    "kwargs", [dict(max_tokens=0), dict(temperature=-0.1), dict(top_p=0.0), dict(top_p=1.5), dict(stop=("",))]
)
def test_bad_params_are_refused(kwargs):
    with pytest.raises(ValueError):
        SamplingParams(**kwargs)


def test_stop_accepts_one_string_or_a_list():
    assert SamplingParams(stop="END").stop == ("END",)
    assert SamplingParams(stop=["a", "b"]).stop == ("a", "b")
