"""Ask: pick a collection (and optionally documents and filters), ask, watch the answer stream.

Each question becomes a turn in the session's history before anything runs, so a failure (the model
did not load, the server went away, a bad filter) keeps the question on the page with the reason and an
"Ask again" button. The answer's sources open the cited document scrolled to its evidence.
"""

from __future__ import annotations

import datetime as dt
import time

import streamlit as st

from app.service import QAError
from app.types import AnswerDone, RetrievalDone, TextDelta
from app.ui import catalog, resources
from app.ui.components import (
    citation_buttons,
    context_panel,
    document_viewer,
    evidence_list,
    random_weights_banner,
    viewer_state,
)
from app.ui.highlight import answer_markdown, citation_groups, md_safe, passage_html
from app.ui.state import current_config
from ingest.errors import DocumentNotFound, IngestError
from retrieval.errors import RetrievalError
from retrieval.filters import Filters

HISTORY_KEY = "docqa_history"  # list of turns (dicts), all collections, oldest first
RETRY_KEY = "docqa_retry"
COLLECTION_KEY = "docqa_collection"
STATUS_EVERY_S = 0.2  # status line refresh while streaming: often enough to look live, cheap to draw
SEQ_KEY = "docqa_turn_seq"  # page scripts re-run from the top, so the turn counter lives in the session


def _pick_collection(names: list[str], default: str | None) -> str:
    remembered = st.session_state.get(COLLECTION_KEY) or default
    index = names.index(remembered) if remembered in names else 0
    name = st.selectbox("Collection", names, index=index, help="the documents to ask about")
    st.session_state[COLLECTION_KEY] = name
    return name


def _scope(summaries) -> tuple[list[str], Filters | None, str | None]:
    """Documents the user picks, and metadata filters. Returns (doc_ids, filters, error)."""
    with st.expander("Scope: documents and filters", expanded=False):
        titles = {d.doc_id: d.title for d in summaries}
        doc_ids = st.multiselect("Read these documents", list(titles),
                                 format_func=lambda i: f"{i}: {titles[i]}",
                                 help="always read, whatever the filters; retrieval fills the rest")
        cols = st.columns(2)
        patients = cols[0].multiselect("Patient", catalog.facet(summaries, "patient_id"))
        kinds = cols[1].multiselect("Kind", catalog.facet(summaries, "kind"))
        cols = st.columns(3)
        date_from = cols[0].date_input("From", value=None, min_value=dt.date(1900, 1, 1))
        date_to = cols[1].date_input("To", value=None, min_value=dt.date(1900, 1, 1))
        source = cols[2].text_input("Source path pattern", placeholder="notes/*.md").strip()
    try:
        filters = Filters(patient_id=tuple(patients) or None, kind=tuple(kinds) or None, date_from=date_from,
                          date_to=date_to, source=source or None)
    except RetrievalError as e:
        return doc_ids, None, str(e)
    return doc_ids, (filters if filters.active else None), None


def _load_service(settings):
    """The service, or (None, reason) when the model cannot load; the page stays usable either way."""
    try:
        return resources.service(settings), None
    except QAError as e:
        return None, str(e)
    except (IngestError, OSError, ValueError) as e:  # e.g. the embedding model folder is missing
        return None, f"cannot start the question-answering service: {e}"


def _retry(question: str) -> None:
    st.session_state[RETRY_KEY] = question


def _render_failure(turn: dict) -> None:
    # No answer and no error: the run was cut short (the user clicked elsewhere while it streamed).
    st.error(turn["error"] or "This answer was interrupted before it finished.")
    st.button("Ask again", key=f"retry-{turn['id']}", on_click=_retry, args=(turn["question"],),
              icon=":material/replay:")


def _render_viewer(turn: dict, settings) -> None:
    state = viewer_state(str(turn["id"]))
    if state is None:
        return
    try:
        doc = catalog.document(settings.data_dir, turn["collection"], state["doc_id"])
    except (DocumentNotFound, IngestError):
        st.warning(f"Document {state['doc_id']} is not in collection {turn['collection']} (any more).")
        return
    document_viewer(str(turn["id"]), doc, state["spans"], state["focus"])


def _render_answer(turn: dict, settings) -> None:
    """A finished turn: the answer (evidence first for the random-weights model), sources, context."""
    answer, owner = turn["answer"], str(turn["id"])
    if answer is None:
        _render_failure(turn)
        return
    titles = {d.doc_id: d.title for d in answer.packed.documents}
    if answer.text.strip():
        generated = answer_markdown(answer.text, citation_groups(answer.citations))
    elif answer.text:
        generated = f"_(the model generated only whitespace: {len(answer.text)} characters)_"
    else:
        generated = "_(no text generated)_"
    if answer.random_weights:
        st.markdown("**Evidence** (retrieval, not generated)")
        evidence_list(owner, answer.evidence, titles)
        with st.expander("Generated text: random weights, noise", expanded=True):
            st.markdown(generated)
    else:
        st.markdown(generated)
    if not answer.ok:
        turn["error"] = f"The answer is incomplete: {answer.error}"
        _render_failure(turn)
    if answer.invalid_citations:
        st.warning("The answer cites document(s) it did not read: " + ", ".join(answer.invalid_citations))
    citation_buttons(owner, answer.citations)
    _render_viewer(turn, settings)
    if not answer.random_weights and answer.evidence:
        with st.expander("Evidence passages"):
            evidence_list(owner + "-ev", answer.evidence, titles)
        _render_viewer({**turn, "id": owner + "-ev"}, settings)
    context_panel(answer.packed, answer.timings)


def _stream(turn: dict, service, doc_ids, filters, budget, live) -> None:
    """Run one question through the service, drawing into ``live`` as events arrive. The status line
    counts what has streamed so far, so progress shows even while the text is only whitespace."""
    text, t_gen, t_shown = "", 0.0, 0.0
    with live.container():
        status = st.status("Retrieving and packing documents…", expanded=False)
        evidence_box, text_box = st.empty(), st.empty()
    for event in service.ask(turn["question"], turn["collection"], doc_ids=doc_ids, filters=filters,
                             budget=budget):
        if isinstance(event, RetrievalDone):
            p = event.packed
            status.update(label=f"Read {len(p.documents)} document(s), {p.prompt_tokens:,} prompt tokens; "
                          "generating…", state="running")
            t_gen = time.perf_counter()
            if service.backend.random_weights and event.evidence:
                evidence_box.html("<b>Evidence</b> (retrieval, not generated)"
                                  + "".join(passage_html(f"[{s.doc_id}] {s.text}") for s in event.evidence))
        elif isinstance(event, TextDelta):
            text += event.text
            text_box.markdown(md_safe(text) + " ▌")
            now = time.perf_counter()
            if now - t_shown >= STATUS_EVERY_S:
                status.update(label=f"Generating… {len(text):,} characters in {now - t_gen:.1f} s")
                t_shown = now
        elif isinstance(event, AnswerDone):
            turn["answer"] = event.answer
            status.update(label="Done", state="complete" if event.answer.ok else "error")


def _ask(turn: dict, settings, doc_ids, filters) -> None:
    with st.chat_message("assistant"):
        live = st.empty()
        service, reason = _load_service(settings)
        if service is None:
            turn["error"] = f"The model is not available: {reason}"
        else:
            try:
                with resources.model_turn():
                    _stream(turn, service, doc_ids, filters, settings.budget, live)
            except QAError as e:
                turn["error"] = str(e)
        live.empty()
        with live.container():
            _render_answer(turn, settings)


def _next_turn_id() -> int:
    st.session_state[SEQ_KEY] = st.session_state.get(SEQ_KEY, 0) + 1
    return st.session_state[SEQ_KEY]


def _history(collection: str) -> list[dict]:
    return [t for t in st.session_state.setdefault(HISTORY_KEY, []) if t["collection"] == collection]


def render() -> None:
    cfg = current_config()
    settings = cfg.settings
    st.title("Ask")
    names = catalog.collections(settings.data_dir)
    if not names:
        st.info(f"No collections in {settings.data_dir} yet. Add documents on the Documents page.")
        st.page_link("page_documents.py", label="Go to Documents", icon=":material/folder_open:")
        return
    collection = _pick_collection(names, cfg.default_collection)
    summaries = catalog.documents(settings.data_dir, collection)
    doc_ids, filters, filter_error = _scope(summaries)
    service, reason = _load_service(settings)
    if service is not None and service.backend.random_weights:
        random_weights_banner()
    if reason:
        st.error(f"The model is not available: {reason}. Documents and settings still work; fix the "
                 "model in the sidebar's Settings (checkpoint or server URL), then ask again.")
    for turn in _history(collection):
        with st.chat_message("user"):
            st.text(turn["question"])
        with st.chat_message("assistant"):
            _render_answer(turn, settings)
    empty = not summaries
    if empty:
        st.info(f"Collection {collection} has no documents yet. Add some on the Documents page.")
    question = st.chat_input(f"Ask a question about {collection}", disabled=empty)
    if question is None and st.session_state.get(RETRY_KEY):
        question = st.session_state.pop(RETRY_KEY)
    if question is None:
        return
    if not question.strip():
        st.warning("The question is empty: type a question.")
        return
    turn = {"id": _next_turn_id(), "collection": collection, "question": question, "answer": None,
            "error": None}
    st.session_state[HISTORY_KEY].append(turn)  # kept before anything can fail
    with st.chat_message("user"):
        st.text(question)
    if filter_error:
        turn["error"] = f"Check the filters: {filter_error}"
        with st.chat_message("assistant"):
            _render_failure(turn)
        return
    _ask(turn, settings, doc_ids, filters)


render()
