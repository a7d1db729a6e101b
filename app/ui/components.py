"""Reusable pieces of the pages: the random-weights banner, budget gauge, timings, context panel,
citation buttons, evidence list and the highlighted document viewer.

Each takes plain data (``PackedContext``, ``Timings``, ``Citation``...) and draws it; none of them
computes anything worth testing on its own. Text from documents and models goes through
``app.ui.highlight`` (escaped HTML, or Markdown that cannot link or embed) before it is drawn.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st

from app.types import RANDOM_WEIGHTS_LABEL, Timings
from app.ui.highlight import highlight_html, md_escape, passage_html, safe_id, scroll_script
from ingest.types import Document
from retrieval.types import EvidenceSpan, PackedContext

VIEWER_KEY = "docqa_viewer"  # session key of the open document: {"owner", "doc_id", "spans", "focus"}


def random_weights_banner() -> None:
    st.warning(f"**Test model with random weights.** {RANDOM_WEIGHTS_LABEL}", icon=":material/warning:")


def budget_gauge(packed: PackedContext) -> None:
    """Prompt tokens used out of what the budget leaves after the answer's reserve."""
    available = max(1, packed.budget - packed.reserve)
    used = packed.prompt_tokens
    st.progress(min(1.0, used / available),
                text=f"Budget: {used:,} / {available:,} prompt tokens ({100 * used / available:.1f}%); "
                f"{packed.reserve:,} reserved for the answer; counts {packed.counting}")


def timings_row(t: Timings) -> None:
    cols = st.columns(4)
    cols[0].metric("Retrieval", f"{t.retrieval_ms:.0f} ms")
    cols[1].metric("Packing", f"{t.pack_ms:.0f} ms")
    cols[2].metric("First token", "–" if t.ttft_ms is None else f"{t.ttft_ms:.0f} ms")
    speed = t.tokens_per_s
    cols[3].metric("Speed", "–" if speed is None else f"{speed:.1f} tok/s")


def context_panel(packed: PackedContext, timings: Timings, *, expanded: bool = False) -> None:
    """What the model read: each packed document (tokens, score, whole or reduced), what was dropped
    and why, the budget gauge and the timings."""
    title = (f"Context: {len(packed.documents)} document(s) read, {packed.prompt_tokens:,} tokens, "
             f"{len(packed.dropped)} dropped")
    with st.expander(title, expanded=expanded):
        budget_gauge(packed)
        timings_row(timings)
        if packed.documents:
            st.dataframe(
                [{"document": d.doc_id, "title": d.title, "tokens": d.n_tokens, "of": d.original_tokens,
                  "score": round(d.score, 4), "rank": d.rank,
                  "read": "reduced" if d.reduced else "whole", "picked": d.selected, "note": d.note}
                 for d in packed.documents],
                hide_index=True, width="stretch",
            )
        else:
            st.caption("No document was packed.")
        if packed.dropped:
            st.markdown("**Dropped**")
            st.dataframe(
                [{"document": d.doc_id, "title": d.title, "tokens": d.n_tokens, "score": round(d.score, 4),
                  "rank": d.rank, "why": d.reason} for d in packed.dropped],
                hide_index=True, width="stretch",
            )


def open_document(owner: str, doc_id: str, spans: Sequence[tuple[int, int]] = (),
                  focus: tuple[int, int] | None = None) -> None:
    """Button callback: show ``doc_id`` in the viewer under ``owner`` (a chat turn, a page section)."""
    st.session_state[VIEWER_KEY] = {"owner": owner, "doc_id": doc_id, "spans": [tuple(s) for s in spans],
                                    "focus": tuple(focus) if focus else None}


def close_document() -> None:
    st.session_state.pop(VIEWER_KEY, None)


def viewer_state(owner: str) -> dict | None:
    state = st.session_state.get(VIEWER_KEY)
    return state if state and state.get("owner") == owner else None


def citation_buttons(owner: str, citations) -> None:
    """One button per cited document; clicking opens it at its evidence. Invalid citations are flagged
    (the model named a document it did not read) and open without highlights when the id exists."""
    if not citations:
        return
    st.markdown("**Sources**")
    cols = st.columns(min(len(citations), 3))
    for i, c in enumerate(citations):
        spans = [(s.start, s.end) for s in c.spans]
        label = f"[{c.doc_id}] {c.title}".strip()
        if not c.valid:
            label += " (not in the prompt)"
        elif c.source == "retrieval":
            label += " (retrieval evidence)"
        help_text = (f"{len(spans)} evidence passage(s); open the document at them" if spans
                     else "open the document")
        first = spans[0] if spans else None
        cols[i % len(cols)].button(md_escape(label), key=f"cite-{owner}-{i}", help=help_text,
                                   on_click=open_document, args=(owner, c.doc_id, spans, first),
                                   icon=":material/description:" if c.valid else ":material/warning:")


def evidence_list(owner: str, spans: Sequence[EvidenceSpan], titles: dict[str, str]) -> None:
    """The retrieval evidence, best first, each passage quoted with a button to open it in place."""
    if not spans:
        st.caption("No passage of the packed documents stands out for this question.")
        return
    for i, s in enumerate(spans):
        title = titles.get(s.doc_id, "")
        cols = st.columns([5, 1])
        cols[0].html(f"<div><b>{i + 1}.</b> <code>[{_esc(s.doc_id)}]</code> {_esc(title)} "
                     f"<small>(chars {s.start}–{s.end})</small>{passage_html(s.text)}</div>")
        cols[1].button("Open", key=f"ev-{owner}-{i}", on_click=open_document,
                       args=(owner, s.doc_id, [(s.start, s.end)], (s.start, s.end)))


def _esc(text: str) -> str:
    return html.escape(str(text))


def document_viewer(owner: str, doc: Document, spans: Sequence[tuple[int, int]],
                    focus: tuple[int, int] | None = None) -> None:
    """The document, every evidence span highlighted, scrolled to ``focus`` (else the first span)."""
    with st.container(border=True):
        top = st.columns([6, 1])
        top[0].markdown(f"**{md_escape(doc.title or doc.doc_id)}**  ·  `{md_escape(doc.doc_id)}`  ·  "
                        f"{doc.n_tokens:,} tokens  ·  {len(spans)} highlighted passage(s)")
        top[1].button("Close", key=f"close-{owner}", on_click=close_document)
        body, target = highlight_html(doc.text, spans, id_prefix=f"doc-{safe_id(owner)}", focus=focus)
        script = scroll_script(target) if target else ""
        st.html(body + script, unsafe_allow_javascript=bool(script))
