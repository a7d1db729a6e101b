"""Lexical terms: the tokenization shared by BM25, section scoring and evidence spans.

Clinical and code questions hinge on exact strings that generic tokenizers break apart: patient ids
("P0007"), diagnosis codes ("E11.9"), lab names ("HbA1c"), values ("7.9%"), drug names and dates.
A term here is a lowercased run of letters and digits that may contain ``. - / +`` between alphanumerics
and may end in ``%``; compound terms also yield their hyphen/slash parts, so "ref-metformin" matches
"metformin". Plain words lose a plural "s" (a crude stem that is enough for "seizures" ~ "seizure").
"""

from __future__ import annotations

import re

_TERM = re.compile(r"[0-9a-z]+(?:[.\-/+][0-9a-z]+)*%?")
_PARTS = re.compile(r"[-/+]")

# Function words that carry no topic; kept short on purpose: "no", "not" and "without" stay,
# because negation matters in clinical text.
_STOPWORDS = """a an and are as at be been being but by can could did do does for from had has have he her
    his how i if in into is it its me my of on or our she should so than that the their them then there
    these they this those to was we were what when where which while who whom why will with would you your"""
STOPWORDS = frozenset(_STOPWORDS.split())


def _stem(term: str) -> str:
    if not term.isalpha() or len(term) <= 3:
        return term
    if term.endswith("ies") and len(term) > 4:
        return term[:-3] + "y"
    if term.endswith("s") and not term.endswith(("ss", "us", "is")):
        return term[:-1]
    return term


def terms(text: str) -> list[str]:
    """The lexical terms of ``text``, in order, with compound parts after their compound."""
    out: list[str] = []
    for match in _TERM.finditer(text.lower()):
        term = match.group()
        if term in STOPWORDS:
            continue
        out.append(_stem(term))
        if term.endswith("%"):
            out.append(term[:-1])
        if _PARTS.search(term):
            out.extend(_stem(p) for p in _PARTS.split(term.rstrip("%")) if p and p not in STOPWORDS)
    return out
