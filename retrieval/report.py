"""Human- and machine-readable summaries of a ranking and its packing (for the CLI and the UI).

Summaries carry ids, titles, scores and token counts; evidence text appears only when the caller
passes evidence spans, because the user asked to see it (it never goes to a log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from retrieval.types import EvidenceSpan, PackedContext, ScoredDocument


def search_report(ranked: Sequence[ScoredDocument], packed: PackedContext,
                  evidence: Mapping[str, list[EvidenceSpan]] | None = None) -> dict:
    """Ranking, packing and evidence as a JSON-ready dict."""
    evidence = evidence or {}
    return {
        "ranked": [{"doc_id": sd.doc_id, "title": sd.document.title, "score": sd.score,
                    "selected": sd.selected, "ranks": sd.ranks, "n_tokens": sd.document.n_tokens,
                    "hits": [[h.start, h.end, h.source] for h in sd.hits]} for sd in ranked],
        "packed": [{"doc_id": d.doc_id, "rank": d.rank, "n_tokens": d.n_tokens, "whole": d.whole,
                    "original_tokens": d.original_tokens, "note": d.note, "kept": [list(k) for k in d.kept],
                    "evidence": [{"start": e.start, "end": e.end, "score": e.score, "text": e.text}
                                 for e in evidence.get(d.doc_id, [])]} for d in packed.documents],
        "dropped": [{"doc_id": d.doc_id, "rank": d.rank, "n_tokens": d.n_tokens, "reason": d.reason}
                    for d in packed.dropped],
        "budget": packed.budget, "reserve": packed.reserve, "prompt_tokens": packed.prompt_tokens,
        "overhead_tokens": packed.overhead_tokens, "order": packed.order, "counting": packed.counting,
    }


def packed_summary(ranked: Sequence[ScoredDocument], packed: PackedContext,
                   evidence: Mapping[str, list[EvidenceSpan]] | None = None) -> str:
    """A terminal table: the ranking, then what was packed, reduced and dropped, then evidence."""
    status = {d.doc_id: ("reduced" if d.reduced else "whole", d.n_tokens) for d in packed.documents}
    status.update({d.doc_id: ("dropped", d.n_tokens) for d in packed.dropped})
    lines = [f"{'#':>3}  {'score':>8}  {'doc_id':<24}{'tokens':>9}  {'packed':<8} title"]
    for i, sd in enumerate(ranked, start=1):
        state, tokens = status.get(sd.doc_id, ("-", sd.document.n_tokens))
        mark = "*" if sd.selected else " "
        lines.append(f"{i:>3}{mark} {sd.score:>8.4f}  {sd.doc_id:<24}{tokens:>9,}  {state:<8} "
                     f"{sd.document.title}")
    n_reduced = sum(d.reduced for d in packed.documents)
    lines.append("")
    limit = packed.budget - packed.reserve
    lines.append(f"packed {len(packed.documents) - n_reduced} whole + {n_reduced} reduced, dropped "
                 f"{len(packed.dropped)}: prompt {packed.prompt_tokens:,} of {limit:,} tokens "
                 f"({packed.budget:,} budget less {packed.reserve:,} for the answer; {packed.counting})")
    lines.append("prompt order: " + " ".join(packed.doc_ids) if packed.documents else "prompt: no documents")
    lines += [f"  {note}" for note in packed.notes]
    for doc_id, spans in (evidence or {}).items():
        for span in spans:
            lines.append(f"  [{doc_id}] {span.start}-{span.end} ({span.score:.2f}): {span.text[:160]}")
    return "\n".join(lines)
