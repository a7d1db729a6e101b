"""Batch: start a batch analysis (a questions file over a collection), watch its progress, browse and
download the results.

The run itself is ``app.batch.runner.run_batch`` in a background thread (``app.ui.batch_jobs``); this
page parses the inputs, starts or stops it, and reads the run folder back for progress and results.
Runs started here generate through the backend's lock (no prefix reuse), so they take turns with the
Ask page's questions instead of racing them; large unattended runs belong to the ``batch`` CLI.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.batch.questions import QuestionFileError, parse_questions
from app.batch.report import load_run, render_html, write_csv
from app.batch.results import RESULTS_NAME
from app.batch.runner import MODES, BatchOptions
from app.service import QAError
from app.ui import batch_jobs, catalog, resources
from app.ui.state import current_config
from retrieval.filters import Filters

RUN_KEY = "docqa_batch_run"  # the run shown in "Progress and results"
POLL_S = 1.5  # how often a running batch's progress refreshes


@st.cache_resource
def _jobs() -> batch_jobs.BatchJobs:
    return batch_jobs.BatchJobs()


def _questions(upload) -> list | None:
    """The uploaded questions file, parsed; None (with the problems shown) when it is not usable."""
    if upload is None:
        return None
    kind = {"yaml": "yaml", "yml": "yaml", "csv": "csv"}.get(upload.name.rsplit(".", 1)[-1].lower())
    if kind is None:
        st.error(f"{upload.name}: use a .yaml, .yml or .csv questions file")
        return None
    try:
        questions = parse_questions(upload.getvalue().decode("utf-8-sig"), kind, upload.name)
    except QuestionFileError as e:
        st.error(str(e))
        return None
    except UnicodeDecodeError:
        st.error(f"{upload.name} is not UTF-8 text")
        return None
    st.caption(f"{len(questions)} question(s): " + ", ".join(q.id for q in questions[:10])
               + (" …" if len(questions) > 10 else ""))
    return questions


def _start_form(cfg, names: list[str]) -> None:
    settings = cfg.settings
    st.subheader("Start a run")
    cols = st.columns(2)
    collection = cols[0].selectbox("Collection", names, key="batch_collection")
    mode = cols[1].radio("Mode", MODES, horizontal=True, key="batch_mode",
                         help="per-document: every question of every selected document, each read whole; "
                         "retrieval: every question over the whole collection")
    questions = _questions(st.file_uploader("Questions file (.yaml or .csv)", type=["yaml", "yml", "csv"],
                                            max_upload_size=cfg.upload_max_mb, key="batch_questions"))
    summaries = catalog.documents(settings.data_dir, collection)
    cols = st.columns(2)
    doc_ids = cols[0].multiselect("Documents (empty: all)", [d.doc_id for d in summaries], key="batch_docs")
    kinds = cols[1].multiselect("Kind", catalog.facet(summaries, "kind"), key="batch_kinds")
    name = st.text_input("Run name (re-using a name resumes that run)", value=f"{collection}-{mode}",
                         key="batch_name")
    if not st.button("Start", type="primary", disabled=not questions, key="batch_start"):
        return
    try:
        options = BatchOptions(collection=collection, mode=mode, doc_ids=tuple(doc_ids),
                               filters=Filters(kind=tuple(kinds)) if kinds else None, budget=settings.budget,
                               reuse_prefix=False)
        backend = resources.backend(settings)
        embedder = resources.embedder(settings.embed_model) if mode == "retrieval" else None
        job = _jobs().start(name, settings.data_dir, backend, questions, options, embedder=embedder)
    except (QAError, ValueError) as e:
        st.error(f"The run did not start: {e}")
        return
    st.session_state[RUN_KEY] = job.name
    st.rerun()


def _downloads(out_dir: Path, meta: dict, rows: list[dict]) -> None:
    cols = st.columns(3)
    results = out_dir / RESULTS_NAME
    cols[0].download_button("results.jsonl", results.read_bytes() if results.is_file() else b"",
                            file_name=f"{out_dir.name}-results.jsonl", mime="application/jsonl",
                            disabled=not results.is_file())
    csv_path = out_dir / "report.csv"
    write_csv(csv_path, rows)
    cols[1].download_button("report.csv", csv_path.read_bytes(), file_name=f"{out_dir.name}.csv",
                            mime="text/csv")
    cols[2].download_button("report.html", render_html(meta, rows).encode("utf-8"),
                            file_name=f"{out_dir.name}.html", mime="text/html")


def _results_table(rows: list[dict]) -> None:
    statuses = sorted({r["status"] for r in rows})
    shown = st.multiselect("Only these statuses (empty: all)", statuses, key="batch_status_filter")
    st.dataframe(
        [{"document": r["doc_id"] or "(collection)", "question": r["question_id"], "status": r["status"],
          "answer": (r["record"].get("answer") or "")[:300], "parsed": _short(r["record"].get("parsed")),
          "error": ((r["record"].get("error") or {}).get("message") or ""),
          "tokens in": r["record"].get("tokens_in"), "tokens out": r["record"].get("tokens_out")}
         for r in rows if not shown or r["status"] in shown],
        hide_index=True, width="stretch",
    )


def _short(value) -> str:
    return "" if value is None else str(value)[:200]


def _progress(settings, name: str, was_running: bool) -> None:
    """Progress bar, stop button, results and downloads of one run. Drawn in a fragment that
    refreshes itself while the run is live; the run ending refreshes the whole page once."""
    job = _jobs().get(name)
    out_dir = batch_jobs.runs_dir(settings.data_dir) / name
    running = job is not None and job.running
    if was_running and not running:
        st.rerun()  # the fragment stops polling; the form and the run list catch up
    if job is not None and job.error:
        st.error(f"Run {name} stopped with an error: {job.error}")
    try:
        meta, rows = load_run(out_dir)
    except FileNotFoundError:
        st.info("Planning the run…" if running else f"No results in {name} yet.")
        return
    done = sum(r["status"] in ("ok", "failed") for r in rows)
    failed = sum(r["status"] == "failed" for r in rows)
    st.progress(done / max(1, len(rows)), text=f"{done} / {len(rows)} items done, {failed} failed"
                + (" (running…)" if running else ""))
    if running:
        st.button("Stop", key="batch_stop", on_click=_jobs().stop, args=(name,))
    elif job is not None and job.summary is not None and job.summary.stop_reason:
        st.warning(job.summary.stop_reason)
    _results_table(rows)
    _downloads(out_dir, meta, rows)


def render() -> None:
    cfg = current_config()
    settings = cfg.settings
    st.title("Batch")
    names = catalog.collections(settings.data_dir)
    if not names:
        st.info("No collections yet. Add documents on the Documents page first.")
        return
    _start_form(cfg, names)
    runs = batch_jobs.list_runs(settings.data_dir)
    chosen = st.session_state.get(RUN_KEY)
    if chosen and chosen not in runs:
        runs.insert(0, chosen)  # just started: its run.json may not be written yet
    if not runs:
        return
    st.subheader("Progress and results")
    index = runs.index(chosen) if chosen in runs else 0
    name = st.selectbox("Run", runs, index=index, key="batch_run_pick")
    job = _jobs().get(name)
    live = job is not None and job.running
    st.fragment(lambda: _progress(settings, name, live), run_every=POLL_S if live else None)()


render()
