"""What a chunk is about, for its vector: the document's title and the headings the chunk sits under.

A chunk of a patient history says "potassium 4.3 mmol/L" but not whose potassium or on which visit;
the document's title and the Markdown headings above the chunk ("Medical history: Tobias Kowalski >
Encounters > 2017-06-03 · Endocrinology follow-up") do. Embedding the chunk with that context lets a
question that names the patient or the visit find the passage by meaning, where the bare passage
could belong to any of fifty similar records. The store keeps the bare span (offsets, evidence and
prompts are unchanged); only the text handed to the embedder carries the context line.

The context line is capped at ``CONTEXT_TOKENS`` embedder tokens, so chunk bodies keep at least the
embedder's window less that cap (``ChunkConfig.max_tokens`` is fitted to it at ingestion).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

import numpy as np

CONTEXT_MODES = ("none", "title", "headings")
CONTEXT_TOKENS = 48  # title (~10 tokens) plus two or three headings; longer lines are cut at a token
SEPARATOR = " > "

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


class HeadingIndex:
    """The Markdown headings of one text, to find those a character offset sits under."""

    def __init__(self, text: str):
        found = [(m.start(), len(m.group(1)), m.group(2).strip()) for m in _HEADING.finditer(text)]
        self._offsets = [f[0] for f in found]
        self._headings = found

    def path(self, offset: int) -> list[str]:
        """Headings enclosing ``offset``, outermost first (a heading at ``offset`` itself excluded)."""
        at = bisect.bisect_right(self._offsets, offset - 1)
        path: list[tuple[int, str]] = []
        for _, level, heading in self._headings[:at]:
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, heading))
        return [heading for _, heading in path]


def context_line(title: str, headings: list[str]) -> str:
    """The title, then the enclosing headings, without repeating the title as the top heading."""
    parts = [title.strip()] if title and title.strip() else []
    for heading in headings:
        if not parts or heading.casefold() != parts[-1].casefold():
            parts.append(heading)
    return SEPARATOR.join(parts)


def _cut(line: str, token_starts: Callable[[str], np.ndarray], max_tokens: int) -> str:
    starts = token_starts(line)
    if len(starts) <= max_tokens:
        return line
    return line[: int(starts[max_tokens])].rstrip()


def embedding_texts(text: str, title: str, spans: list[tuple[int, int]], mode: str,
                    token_starts: Callable[[str], np.ndarray]) -> list[str]:
    """The text to embed for each chunk span of one document: context line, blank line, chunk."""
    if mode not in CONTEXT_MODES:
        raise ValueError(f"unknown chunk context {mode!r}; choose one of {', '.join(CONTEXT_MODES)}")
    bodies = [text[s:e] for s, e in spans]
    if mode == "none":
        return bodies
    index = HeadingIndex(text) if mode == "headings" else None
    lines: dict[str, str] = {}
    out = []
    for (start, _), body in zip(spans, bodies, strict=True):
        line = context_line(title, index.path(start) if index else [])
        if line not in lines:
            lines[line] = _cut(line, token_starts, CONTEXT_TOKENS)
        out.append(f"{lines[line]}\n\n{body}" if lines[line] else body)
    return out
