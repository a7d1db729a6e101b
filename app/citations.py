"""Find the ``[doc_id]`` citations in a generated answer and check them against the packed documents.

Long-context models cite poorly: they invent ids, cite documents that were dropped from the prompt, or
cite nothing. The service checks every citation after generation, so the UI can flag the bad ones.

Document ids contain no whitespace or square brackets (docs/architecture.md), so a citation is a
bracketed run of such ids, separated by commas or semicolons: ``[P0007]``, ``[P0007, ref-metformin]``.
Markdown links (``[text](url)``) and the packer's elision marks (``[... 3 paragraphs omitted ...]``)
are not citations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.types import Citation
from retrieval.types import EvidenceSpan, PackedContext

# Prefixes models put inside the brackets although the prompt asks for the bare id: [doc_id: P0007].
_PREFIX = r"(?:(?:doc_?id|doc|id)\s*[:=]\s*)?"
_ID = _PREFIX + r"[^\[\]\s,;]+"
# One bracket group: ids separated by "," or ";" with optional spaces; not followed by "(" (a link).
_GROUP = re.compile(rf"\[\s*({_ID}(?:\s*[,;]\s*{_ID})*)\s*\](?!\()", re.IGNORECASE)
_SPLIT = re.compile(r"\s*[,;]\s*")
_STRIP_PREFIX = re.compile("^" + _PREFIX, re.IGNORECASE)


@dataclass(frozen=True)
class CitationMark:
    """One cited id at one place in the answer text: ``text[start:end]`` is the whole bracket group."""

    doc_id: str
    start: int
    end: int


def _clean(raw: str) -> str:
    return _STRIP_PREFIX.sub("", raw.strip()).strip("\"'`")


def parse_citations(text: str) -> list[CitationMark]:
    """Every cited id in order of appearance (an id cited twice appears twice)."""
    marks: list[CitationMark] = []
    for m in _GROUP.finditer(text):
        inner = m.group(1)
        if inner.startswith("..."):
            continue
        for raw in _SPLIT.split(inner):
            doc_id = _clean(raw)
            if doc_id and not doc_id.startswith("..."):
                marks.append(CitationMark(doc_id, m.start(), m.end()))
    return marks


def cited_ids(marks: Iterable[CitationMark]) -> list[str]:
    """Distinct ids in order of first citation."""
    return list(dict.fromkeys(m.doc_id for m in marks))


def check_citations(marks: Iterable[CitationMark], packed_ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split the cited ids into (valid, invalid): valid ones name a document that was in the prompt."""
    allowed = set(packed_ids)
    ids = cited_ids(marks)
    return [i for i in ids if i in allowed], [i for i in ids if i not in allowed]


# ---- citations joined to packed documents and evidence ---------------------------------------------

EVIDENCE_ANSWER_PASSAGES = 5
PASSAGE_CHARS = 400  # a passage longer than this is cut at a word boundary in the evidence answer


def top_evidence(spans_by_doc: dict[str, tuple[EvidenceSpan, ...]], n: int = EVIDENCE_ANSWER_PASSAGES,
                 ranks: dict[str, int] | None = None) -> tuple[EvidenceSpan, ...]:
    """The ``n`` best passages over all packed documents, best first.

    Span scores are comparable within a document but not across documents (one is scored semantically,
    another lexically; a common phrase scores high anywhere), so documents take turns by retrieval rank:
    the j-th best span (0-based) of the document ranked r sorts at r + j, ties broken by span score;
    a passage repeating one already chosen from the same document is skipped.
    The best document leads, and a question over several patients still shows each of them.
    Without ``ranks``, the order of ``spans_by_doc`` is the ranking.
    """
    ranks = ranks or {doc_id: i for i, doc_id in enumerate(spans_by_doc, 1)}
    keyed = []
    for doc_id, spans in spans_by_doc.items():
        for j, s in enumerate(sorted(spans, key=lambda s: -s.score)):
            keyed.append((ranks.get(doc_id, len(ranks) + 1) + j, -s.score, s))
    best, seen = [], set()
    for *_, s in sorted(keyed, key=lambda k: k[:2]):
        text = " ".join(s.text.split())
        if (s.doc_id, text) not in seen:  # a repeated line ("admitted overnight.") says nothing new
            seen.add((s.doc_id, text))
            best.append(s)
    return tuple(best[:n])


def _shorten(text: str, limit: int = PASSAGE_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def evidence_answer(best: Sequence[EvidenceSpan], packed: PackedContext) -> str:
    """The retrieval evidence as a readable answer with ``[doc_id]`` citations (no model involved)."""
    if not best:
        if not packed.documents:
            return "No documents matched this question."
        return "No passage of the packed documents stands out for this question."
    titles = {d.doc_id: d.title for d in packed.documents}
    lines = ["Most relevant passages in the documents (retrieval evidence, not generated):", ""]
    for i, s in enumerate(best, 1):
        title = f" ({titles[s.doc_id]})" if titles.get(s.doc_id) else ""
        lines.append(f"{i}. [{s.doc_id}]{title}: \"{_shorten(s.text)}\"")
    return "\n".join(lines)


def build_citations(text: str, packed: PackedContext, spans_by_doc: dict[str, tuple[EvidenceSpan, ...]],
                    best: Sequence[EvidenceSpan]) -> tuple[Citation, ...]:
    """Checked citations for an answer; evidence from retrieval when it cites nothing valid.

    Every cited id becomes a ``Citation``: valid (it names a packed document; its evidence passages
    attached) or invalid (flagged). When no citation is valid, the documents of the best retrieval
    passages are attached as ``source="retrieval"`` citations, so the user still sees where to look.
    """
    titles = {d.doc_id: d.title for d in packed.documents}
    marks = parse_citations(text)
    valid, invalid = check_citations(marks, titles)
    positions: dict[str, list[tuple[int, int]]] = {}
    for m in marks:
        positions.setdefault(m.doc_id, []).append((m.start, m.end))
    bad = set(invalid)
    out = [
        Citation(doc_id=i, valid=i not in bad, title=titles.get(i, ""), spans=spans_by_doc.get(i, ()),
                 marks=tuple(positions[i]))
        for i in cited_ids(marks)
    ]
    if not valid:
        for doc_id in dict.fromkeys(s.doc_id for s in best):
            out.append(Citation(doc_id=doc_id, valid=True, title=titles.get(doc_id, ""),
                                spans=spans_by_doc.get(doc_id, ()), source="retrieval"))
    return tuple(out)
