"""Sampling: how the next token is chosen from the last position's logits.

Runtime knobs live in ``SamplingParams`` (passed per request, never in the model config). The
``Sampler`` owns the random generator so a request with a seed is reproducible on its own, whatever
else ran in the process before it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy (argmax); the default because answers must be reproducible
    top_p: float = 1.0  # nucleus sampling: keep the smallest set of tokens whose probability mass >= top_p
    stop: tuple[str, ...] = ()  # strings that end the answer; never emitted themselves
    seed: int | None = None  # None = fresh randomness each request (only matters when temperature > 0)

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if any(not s for s in self.stop):
            raise ValueError("stop strings must be non-empty")


def top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero every token outside the nucleus and renormalize. probs: (B, V) summing to 1 per row.

    The nucleus is the smallest prefix of the tokens sorted by probability whose mass reaches top_p;
    the most likely token is always kept, so top_p close to 0 degrades to greedy, never to nothing.
    """
    if top_p >= 1.0:
        return probs
    sorted_p, order = torch.sort(probs, dim=-1, descending=True)  # (B, V)
    mass_before = torch.cumsum(sorted_p, dim=-1) - sorted_p  # mass of the strictly more likely tokens
    sorted_p = sorted_p.masked_fill(mass_before >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
    return kept / kept.sum(dim=-1, keepdim=True)


class Sampler:
    """Turns last-position logits (B, V) into next-token ids (B,), per ``SamplingParams``."""

    def __init__(self, params: SamplingParams, device: torch.device | str = "cpu") -> None:
        self.params = params
        self.generator: torch.Generator | None = None
        if params.temperature > 0:
            self.generator = torch.Generator(device=device)
            if params.seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(params.seed)

    def probs(self, logits: torch.Tensor) -> torch.Tensor:
        """The distribution sampling draws from (after temperature and top-p), fp32 (B, V)."""
        scaled = logits.float() / max(self.params.temperature, 1e-6)
        return top_p_filter(torch.softmax(scaled, dim=-1), self.params.top_p)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        if self.params.temperature == 0:
            return logits.argmax(dim=-1)
        return torch.multinomial(self.probs(logits), 1, generator=self.generator).squeeze(-1)
