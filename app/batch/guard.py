"""A backend wrapper for batch runs: stops generation when the run is stopped, counts tokens safely.

Every request of a run goes through it, whatever the mode, so Ctrl-C reaches the model the same way
(``should_stop`` checked per token by the engine, per stream event by the HTTP client), and the
tokenizer, shared by worker threads, is used by one thread at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from model.backend import BackendError, ChatBackend, Messages, ShouldStop
from model.sampling import SamplingParams


class Cancelled(BackendError):
    """The run was stopped while this item was generating: it is not recorded, a resume redoes it."""


class GuardedBackend(ChatBackend):
    def __init__(self, inner: ChatBackend, stop: threading.Event) -> None:
        self.inner = inner
        self.stop = stop
        self._count_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    @property
    def random_weights(self) -> bool:
        return self.inner.random_weights

    def count_tokens(self, text: str) -> int:
        with self._count_lock:
            return self.inner.count_tokens(text)

    def count_messages(self, messages: Messages) -> int:
        with self._count_lock:
            return self.inner.count_messages(messages)

    def check_fits(self, n_prompt: int, max_tokens: int) -> None:
        self.inner.check_fits(n_prompt, max_tokens)

    def info(self) -> dict:
        return self.inner.info()

    def stopped(self) -> bool:
        return self.stop.is_set()

    def stream_chat(
        self, messages: Messages, params: SamplingParams, should_stop: ShouldStop | None = None
    ) -> Iterator[str]:
        def halt() -> bool:
            return self.stop.is_set() or (should_stop is not None and should_stop())

        yield from self.inner.stream_chat(messages, params, should_stop=halt)
        if self.stop.is_set():
            raise Cancelled("the batch run was stopped before this answer finished")
