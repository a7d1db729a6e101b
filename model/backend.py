"""One interface for every model that answers: the in-process engine, or an OpenAI-compatible server.

The question-answering service, the UI and batch analysis talk to a ``ChatBackend`` and never to an
engine or an HTTP client directly, so "run Jamba here" and "ask the vLLM cluster" are one code path.
A backend knows chat messages, tokens and text; it knows nothing about documents or collections.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path

from model.sampling import SamplingParams

log = logging.getLogger(__name__)

Messages = list[dict]  # OpenAI-style chat messages: {"role": "system" | "user" | "assistant", "content": str}
ShouldStop = Callable[[], bool]


class BackendError(RuntimeError):
    """The model could not answer. The message is safe to show a user (no prompt text in it)."""


class BackendUnavailable(BackendError):
    """The model cannot be reached or loaded: a server that is down, a checkpoint that is missing."""


class PromptTooLong(BackendError):
    """The prompt plus the room asked for the answer does not fit the model (or this GPU)."""

    @classmethod
    def of(cls, n_prompt: int, max_tokens: int, limit: int, why: str = "context window") -> PromptTooLong:
        return cls(
            f"prompt of {n_prompt:,} tokens plus {max_tokens:,} answer tokens exceeds the {why} "
            f"of {limit:,} tokens; lower the budget or select fewer documents"
        )


class ChatBackend(ABC):
    """What the service needs from a model: stream chat answers, count tokens, know the context window."""

    name: str  # model name shown to the user, e.g. the checkpoint folder or the server's model id
    context_window: int  # most tokens (prompt + answer) one request may use
    random_weights: bool  # True for the tiny test checkpoint: every output must be labelled

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` as the model sees it (no special tokens)."""

    @abstractmethod
    def count_messages(self, messages: Messages) -> int:
        """Tokens of the whole prompt these messages become, chat template and generation prompt included."""

    @abstractmethod
    def stream_chat(
        self, messages: Messages, params: SamplingParams, should_stop: ShouldStop | None = None
    ) -> Iterator[str]:
        """Yield the answer as text deltas. Raises ``BackendError`` (possibly after some deltas)."""

    @abstractmethod
    def info(self) -> dict:
        """What the Model page shows: backend kind, checkpoint or URL, device, kernels, limits."""

    def check_fits(self, n_prompt: int, max_tokens: int) -> None:
        """Refuse a request before any work starts when prompt + answer would not fit."""
        if n_prompt + max_tokens > self.context_window:
            raise PromptTooLong.of(n_prompt, max_tokens, self.context_window)


class EngineBackend(ChatBackend):
    """The in-process Jamba engine. One generation at a time: the engine owns one GPU and one cache."""

    def __init__(self, engine, *, prefill_chunk: int = 2048, plan=None, checkpoint: str | None = None,
                 device: str | None = None, dtype: str | None = None) -> None:
        self.engine = engine
        self.prefill_chunk = prefill_chunk
        self.plan = plan  # model.plan.Plan for this GPU, or None on CPU (host memory is not planned)
        self.checkpoint = checkpoint
        self.device, self.dtype = device, dtype
        self.name = getattr(engine, "name", None) or (Path(checkpoint).name if checkpoint else "jamba")
        self.random_weights = bool(engine.random_weights)
        limit = int(engine.context_window)
        if plan is not None:
            limit = min(limit, int(plan.max_context))
        self.context_window = limit
        # Generation is serialized: concurrent UI sessions queue here instead of fighting over the cache.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, model: str, device: str = "cpu", dtype: str = "float32", *, kernels: str | None = None,
             prefill_chunk: int = 2048) -> EngineBackend:
        """Load a checkpoint folder or hub id; on a GPU also plan memory so oversize requests are refused."""
        from model.config import ConfigError
        from model.engine import Engine
        from model.weights import CheckpointError

        t0 = time.perf_counter()
        try:
            engine = Engine.load(model, device=device, dtype=dtype, kernels=kernels)
        except (OSError, CheckpointError, ConfigError) as e:
            raise BackendUnavailable(f"cannot load model {model!r}: {e}") from e
        plan = _plan_for(engine, device, dtype, prefill_chunk)
        log.info("loaded engine %s on %s/%s in %.1f s", model, device, dtype, time.perf_counter() - t0)
        return cls(engine, prefill_chunk=prefill_chunk, plan=plan, checkpoint=str(model),
                   device=device, dtype=dtype)

    def count_tokens(self, text: str) -> int:
        return len(self.engine.tokenizer.encode(text, add_special_tokens=False))

    def count_messages(self, messages: Messages) -> int:
        return len(self.engine.encode_chat(messages))

    def check_fits(self, n_prompt: int, max_tokens: int) -> None:
        if self.plan is not None and n_prompt + max_tokens > self.plan.max_context:
            limit = int(self.plan.max_context)
            raise PromptTooLong.of(n_prompt, max_tokens, limit, why="memory plan for this GPU")
        super().check_fits(n_prompt, max_tokens)

    def stream_chat(
        self, messages: Messages, params: SamplingParams, should_stop: ShouldStop | None = None
    ) -> Iterator[str]:
        ids = self.engine.encode_chat(messages)
        self.check_fits(len(ids), params.max_tokens)
        with self._lock:
            yield from self.engine.stream_text(
                ids, params, prefill_chunk=self.prefill_chunk, should_stop=should_stop
            )

    def info(self) -> dict:
        cfg = self.engine.config
        out = {
            "kind": "engine",
            "name": self.name,
            "checkpoint": self.checkpoint,
            "device": self.device,
            "dtype": self.dtype,
            "kernels": _kernel_name(self.engine),
            "context_window": self.context_window,
            "model_context_window": int(self.engine.context_window),
            "random_weights": self.random_weights,
            "prefill_chunk": self.prefill_chunk,
            "layers": cfg.num_hidden_layers,
            "hidden_size": cfg.hidden_size,
            "token_counts": "exact (the model's tokenizer)",
        }
        if self.plan is not None:
            out["planner"] = {"max_context": int(self.plan.max_context), "summary": str(self.plan)}
        return out


def _kernel_name(engine) -> str | None:
    ops = getattr(engine, "ops", None)
    return getattr(ops, "name", None) or getattr(engine, "kernels", None)


def _plan_for(engine, device: str, dtype: str, prefill_chunk: int):
    """The memory plan for this GPU, so requests that cannot fit are refused before allocation."""
    if not str(device).startswith("cuda"):
        return None
    import torch

    from model.plan import plan

    total = torch.cuda.get_device_properties(torch.device(device)).total_memory
    return plan(engine.config, dtype, total, prefill_chunk)
