"""Split a document into units that can be kept or left out whole: paragraphs, and sentences within
paragraphs too long to keep or drop as one.

Every unit is a character span [start, end) of the original text, so a reduced document maps back to
the original for citations. Units never split a sentence: boundaries are blank lines, Markdown headings,
line breaks inside an oversized paragraph, and sentence ends (".", "!", "?" followed by space and an
upper-case letter, digit or bracket, except after common abbreviations such as "Dr." or "e.g.").
Each unit remembers the heading it sits under, so a kept paragraph can carry its heading (a visit date
in a medical history) into the reduced document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_UNIT_CHARS = 2000  # ~500 tokens: longer paragraphs are split into sentences for finer reduction

_BLOCK_BREAK = re.compile(r"\n[ \t]*\n\s*")
_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[A-Z0-9])|\n+")
_ABBREVIATION_LIST = "dr mr mrs ms prof st no vs etc e.g i.e approx fig al inc ltd jr sr dept mt ft oz"
_ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())


@dataclass(frozen=True)
class Unit:
    """A span of text kept or omitted whole. ``heading`` is the index of its heading unit, or -1."""

    start: int
    end: int
    kind: str  # "heading", "paragraph" or "sentence"
    heading: int = -1


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _blocks(text: str) -> list[tuple[int, int]]:
    """Blank-line separated blocks, with a Markdown heading line always starting a block of its own."""
    cuts = {0, len(text)}
    for m in _BLOCK_BREAK.finditer(text):
        cuts.update((m.start(), m.end()))
    for m in _HEADING.finditer(text):
        cuts.add(m.start())
        line_end = text.find("\n", m.start())
        cuts.add(len(text) if line_end < 0 else line_end)
    points = sorted(cuts)
    spans = (_trimmed(text, a, b) for a, b in zip(points, points[1:], strict=False))
    return [(a, b) for a, b in spans if b > a]


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period ending at ``end`` closes an abbreviation rather than a sentence."""
    if text[end - 1] != ".":
        return False
    word_start = end - 1
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:end - 1].lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence (or line) spans inside text[start:end], trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    begin = start
    for m in _SENTENCE_END.finditer(text, start, end):
        if "\n" not in m.group() and _is_abbreviation(text, m.start()):
            continue
        spans.append(_trimmed(text, begin, m.start()))
        begin = m.end()
    spans.append(_trimmed(text, begin, end))
    return [(a, b) for a, b in spans if b > a]


def split_units(text: str, max_unit_chars: int = MAX_UNIT_CHARS) -> list[Unit]:
    """The document as units in original order: headings, paragraphs, and sentences of long paragraphs."""
    units: list[Unit] = []
    heading = -1
    for start, end in _blocks(text):
        if _HEADING.match(text, start) and "\n" not in text[start:end]:
            heading = len(units)
            units.append(Unit(start, end, "heading"))
        elif end - start <= max_unit_chars:
            units.append(Unit(start, end, "paragraph", heading))
        else:
            units.extend(Unit(a, b, "sentence", heading) for a, b in sentences(text, start, end))
    return units
