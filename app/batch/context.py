"""What every job of one run shares: the model, sampling, budget, the run's fingerprint, the stop flag."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from app.batch.guard import GuardedBackend
from app.batch.items import Item
from model.sampling import SamplingParams


@dataclass(frozen=True)
class RunContext:
    backend: GuardedBackend
    params: SamplingParams
    budget: int | None  # prompt tokens for documents (the Settings contract); None: the context window
    run_hash: str
    mode: str
    model_info: dict
    engine: object | None = None  # the in-process engine, when per-document prefix reuse applies
    prefill_chunk: int = 2048
    embedder: object | None = None  # per-document evidence also scored semantically when given
    # The embedder's tokenizer refuses concurrent calls ("Already borrowed"): one worker at a time.
    embed_lock: threading.Lock = field(default_factory=threading.Lock, compare=False)

    @property
    def pack_budget(self) -> int:
        """pack() wants prompt + answer; the user's budget is the prompt's share."""
        window = self.backend.context_window
        if self.budget is None:
            return window
        return min(self.budget + self.params.max_tokens, window)


@dataclass(frozen=True)
class Job:
    """One item ready to run: ``run()`` returns its record (called on a worker thread or inline)."""

    item: Item
    run: Callable[[], dict]
