"""Server settings: one frozen dataclass, built by ``python -m model.serve`` from flags and environment."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"  # localhost only unless the operator opts in: prompts may be medical records
    port: int = 8000
    api_key: str | None = None  # when set, every /v1 request needs "Authorization: Bearer <key>"
    model_name: str | None = None  # id reported by /v1/models; default: the checkpoint folder's name
    # Waiting requests beyond the one generating. The engine owns one GPU and runs one request at a time;
    # a short queue keeps latency predictable and turns overload into a fast 429 instead of timeouts.
    max_queue: int = 8
    # A 256K-token prompt is ~1 MB of text, ~1.5 MB as escaped JSON; 16 MiB leaves room for
    # non-Latin scripts and still stops a runaway upload before it is read into memory.
    max_body_bytes: int = 16 * 1024 * 1024
    default_max_tokens: int = 512  # when a request names none
    max_tokens_limit: int | None = None  # most answer tokens one request may ask for; None: the context
    prefill_chunk: int = 2048

    def __post_init__(self) -> None:
        if self.max_queue < 0:
            raise ValueError("max_queue must be >= 0")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
