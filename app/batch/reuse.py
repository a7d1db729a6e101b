"""Per-document prefix reuse on the in-process engine: prefill a document once, ask it many questions.

In per-document mode every question of a document shares the prompt up to the question (system
prompt, then the document; the question comes last). Jamba makes reusing that prefix cheap: a Mamba
layer's whole past is its conv + SSM state (a fixed ~0.5 MiB a layer, whatever the length), and an
attention layer's past is its KV rows, which a later suffix never overwrites below its start. So:

    | shared prefix: prefilled once, Mamba state snapshotted | question i: prefilled per question | answer |
    0                                                         shared                                 n_i

For each question the Mamba state is restored from the snapshot, the question's own tokens are
prefilled from position ``shared`` (overwriting the previous question's KV rows), and decoding goes on
from there. With greedy sampling this gives the same tokens as prefilling the whole prompt.

This drives the engine through its public API: ``new_cache``, ``prefill(start=)`` for the prefix and
each question, then ``decode_from`` (the engine's own sampling and decode loop) for the answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from model.sampling import SamplingParams
from model.streaming import stream_tokens_as_text

log = logging.getLogger(__name__)


def common_prefix(prompts: list[list[int]]) -> int:
    """Tokens every prompt starts with, less one: each prompt needs a token of its own to predict from."""
    if len(prompts) < 2:
        return 0
    first, n = prompts[0], min(len(p) for p in prompts)
    shared = 0
    while shared < n and all(p[shared] == first[shared] for p in prompts):
        shared += 1
    return max(0, min(shared, n - 1))


class PrefixReuse:
    """The prompts of one document's questions (question id -> token ids), answered in any order."""

    def __init__(self, engine, prompts: dict[str, list[int]], max_tokens: int, prefill_chunk: int = 2048):
        self.engine = engine
        self.prompts = prompts
        self.prefill_chunk = prefill_chunk
        self.shared = common_prefix(list(prompts.values()))
        self.max_len = max(len(p) for p in prompts.values()) + max_tokens
        self.prefix_ms = 0.0
        self._cache = None
        self._snapshot: tuple[dict, dict] | None = None
        self._left = set(prompts)

    def _prepare(self):
        """The cache holding the shared prefix, its Mamba state restored to just after the prefix."""
        if self._cache is None:
            t0 = time.perf_counter()
            self._cache = self.engine.new_cache(self.max_len)
            if self.shared:
                first = next(iter(self.prompts.values()))
                self.engine.prefill(first[: self.shared], self._cache, self.prefill_chunk)
            self._snapshot = ({i: t.clone() for i, t in self._cache.conv.items()},
                              {i: t.clone() for i, t in self._cache.ssm.items()})
            self.prefix_ms = (time.perf_counter() - t0) * 1000
            log.info("prefix prefill: %d shared tokens for %d questions in %.0f ms", self.shared,
                     len(self.prompts), self.prefix_ms)
        conv, ssm = self._snapshot
        for i, t in self._cache.conv.items():
            t.copy_(conv[i])
        for i, t in self._cache.ssm.items():
            t.copy_(ssm[i])
        return self._cache

    def prefill(self, qid: str):
        """Logits (1, V) after question ``qid``'s whole prompt, and the cache holding it."""
        ids = self.prompts[qid]
        cache = self._prepare()
        # | shared: restored from the snapshot | this question: ids[shared:] | answer: n .. n+max |
        logits = self.engine.prefill(ids[self.shared:], cache, self.prefill_chunk, start=self.shared)
        return logits, cache

    def tokens(self, qid: str, params: SamplingParams,
               should_stop: Callable[[], bool] | None = None) -> Iterator[int]:
        """New token ids for question ``qid``; returns why it ended: "stop", "length" or "cancelled"."""
        try:
            logits, cache = self.prefill(qid)
            return (yield from self.engine.decode_from(logits, cache, len(self.prompts[qid]), params,
                                                       should_stop))
        finally:
            self._left.discard(qid)
            if not self._left:  # the document's last question: free the KV cache now
                self._cache = self._snapshot = None

    def stream_text(self, qid: str, params: SamplingParams,
                    should_stop: Callable[[], bool] | None = None) -> Iterator[str]:
        """Text deltas like ``Engine.stream_text``; returns the finish reason."""
        tokens = self.tokens(qid, params, should_stop)
        return (yield from stream_tokens_as_text(tokens, self.engine.tokenizer, params.stop))
