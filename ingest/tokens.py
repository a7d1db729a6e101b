"""Per-document token counts with the serving model's tokenizer.

Packing a 100K-token prompt needs each document's length in the model's own tokens, so the count is
taken once at ingest and stored. When no tokenizer is available the counter falls back to a documented
approximation (one token per 4 characters, rounded up: the usual ratio for English under BPE
tokenizers with a 64K vocabulary) and says so through ``approximate``; the collection records it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)

APPROX_NAME = "approx:chars/4"
CHARS_PER_TOKEN = 4


class TokenCounter:
    """``count(text) -> int`` with a tokenizer folder or hub id, or the approximation when None."""

    def __init__(self, tokenizer: str | None):
        self._encode = None
        if tokenizer is None or tokenizer == APPROX_NAME:
            self.name = APPROX_NAME
            return
        path = Path(tokenizer).expanduser()
        # A folder is recorded by absolute path so the count can be reproduced from any working dir.
        self.name = str(path.resolve()) if path.is_dir() else str(tokenizer)
        self._encode = _load(self.name)

    @property
    def approximate(self) -> bool:
        return self._encode is None

    def count(self, text: str) -> int:
        if self._encode is None:
            return math.ceil(len(text) / CHARS_PER_TOKEN)
        return self._encode(text)


def _load(tokenizer: str):
    """A function text -> token count; the plain ``tokenizers`` path avoids importing transformers."""
    from .errors import IngestError

    file = Path(tokenizer) / "tokenizer.json"
    if file.is_file():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(file))
        tok.no_truncation()
        tok.no_padding()
        return lambda text: len(tok.encode(text, add_special_tokens=False).ids)
    try:
        from transformers import AutoTokenizer

        hf = AutoTokenizer.from_pretrained(tokenizer)
    except (OSError, ValueError) as err:
        raise IngestError(f"cannot load tokenizer {tokenizer!r}: {err}") from err
    return lambda text: len(hf(text, add_special_tokens=False)["input_ids"])


def default_tokenizer(explicit: str | None, env_value: str | None, fallback: str = "data/tiny-jamba"):
    """The tokenizer to use: flag, else environment, else ``fallback`` if that folder exists, else None.

    An explicit flag or environment value must load (a typo is an error); only the implicit default
    may quietly fall back to the approximation.
    """
    if explicit:
        return explicit
    if env_value:
        return env_value
    if Path(fallback).is_dir():
        return fallback
    log.warning("no tokenizer at %s; token counts are approximate (%s)", fallback, APPROX_NAME)
    return None
