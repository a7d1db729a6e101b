"""Documents: collections with counts and sizes; add files (upload or a folder on this machine) with a
progress bar and the per-file report; list, search, view and remove documents.

Ingestion is ``ingest.pipeline.add``, the same call the ``docqa-ingest`` CLI makes; this page only
collects the inputs, draws the progress, and shows the report.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.ui import catalog, resources, uploads
from app.ui.components import document_viewer, open_document, viewer_state
from app.ui.state import current_config
from ingest.errors import IngestError
from ingest.store import validate_name

REPORT_KEY = "docqa_ingest_report"  # the last run's report, shown until the next run
UPLOADER_SEQ = "docqa_uploader_seq"  # bumped after an ingest so the uploader empties
NEW = "➕ New collection…"
OWNER = "documents"


def _collections_table(data_dir: Path) -> list[str]:
    rows = catalog.overview(data_dir)
    if not rows:
        st.info(f"No collections in {data_dir} yet: create one below by adding files.")
        return []
    st.table([{"collection": r.name, "documents": r.documents, "chunks": r.chunks, "tokens": f"{r.tokens:,}",
               "size": f"{r.disk_bytes / 1e6:.2f} MB", "embedding model": r.embed_model,
               "tokenizer": Path(r.tokenizer).name or r.tokenizer} for r in rows])
    return [r.name for r in rows]


def _target(names: list[str], default: str | None) -> str | None:
    """The collection to add to: an existing one, or a new name (validated)."""
    options = [*names, NEW]
    index = names.index(default) if default in names else 0
    choice = st.selectbox("Add to collection", options, index=index)
    if choice != NEW:
        return choice
    name = st.text_input("New collection name", placeholder="clinic-2024").strip()
    if not name:
        return None
    try:
        return validate_name(name)
    except IngestError as e:
        st.error(str(e))
        return None


def _ingest(cfg, collection: str, paths: list[Path], group_by: str = "file") -> None:
    """Run the pipeline with a progress bar; keep the report in the session for the page to show."""
    from ingest.pipeline import add
    from ingest.readers import ReadOptions

    settings = cfg.settings
    exists = collection in catalog.collections(settings.data_dir)
    bar = st.progress(0.0, text=f"Reading {len(paths)} path(s)…")

    def on_progress(p) -> None:
        done = p.bytes_done / p.bytes_total if p.bytes_total else p.files_done / max(1, p.files_total)
        bar.progress(min(1.0, done), text=f"{p.files_done}/{p.files_total} files, "
                     f"{p.chunks_embedded} chunks embedded")

    try:
        report = add(settings.data_dir, collection, paths, read_options=ReadOptions(group_by=group_by),
                     embedder=resources.embedder(settings.embed_model),
                     tokenizer=None if exists else settings.resolved_tokenizer, on_progress=on_progress)
    except (IngestError, ValueError, OSError) as e:
        bar.empty()
        st.session_state[REPORT_KEY] = {"collection": collection, "error": str(e)}
        return
    bar.progress(1.0, text="Done")
    st.session_state[REPORT_KEY] = {"collection": collection, "report": report}


def _show_report() -> None:
    """The last run: counts, then every file that was refused or failed, with its reason."""
    last = st.session_state.get(REPORT_KEY)
    if last is None:
        return
    failed = [{"file": x.name, "reason": x.reason} for x in last.get("rejected", [])]
    r = last.get("report")
    if r is None:
        st.error(f"Nothing was added to {last['collection']}: {last['error']}")
    else:
        st.success(f"{last['collection']}: {len(r.added)} added, {len(r.updated)} updated, "
                   f"{r.unchanged} unchanged, {len(r.failed)} failed ({r.files} file(s), "
                   f"{r.bytes / 1e6:.2f} MB, {r.chunks_embedded} chunks embedded, {r.seconds:.1f} s)")
        failed += [{"file": Path(f.path).name, "reason": f.reason} for f in r.failed]
    if failed:
        st.warning(f"{len(failed)} file(s) not added:")
        st.dataframe(failed, hide_index=True, width="stretch")


def _upload_tab(cfg, collection: str | None) -> None:
    seq = st.session_state.setdefault(UPLOADER_SEQ, 0)
    files = st.file_uploader(
        "Files", accept_multiple_files=True, key=f"uploader-{seq}",
        type=[e.lstrip(".") for e in cfg.allowed_extensions], max_upload_size=cfg.upload_max_mb,
        help=f"up to {cfg.upload_max_mb} MB per file",
    )
    st.caption(f"Up to {cfg.upload_max_mb} MB per file: text, Markdown, PDF, DOCX, HTML, CSV, "
               "FHIR JSON/NDJSON, C-CDA XML and source code.")
    if not st.button("Ingest uploaded files", disabled=not files or collection is None, type="primary"):
        return
    folder = uploads.upload_dir(cfg.settings.data_dir, collection)
    saved, rejected = uploads.save([(f.name, f.getvalue()) for f in files], folder,
                                   cfg.allowed_extensions, cfg.upload_max_bytes)
    if saved:
        _ingest(cfg, collection, saved)
    else:
        st.session_state[REPORT_KEY] = {"collection": collection, "error": "no acceptable file"}
    st.session_state[REPORT_KEY]["rejected"] = rejected
    st.session_state[UPLOADER_SEQ] = seq + 1
    st.rerun()


def _folder_tab(cfg, collection: str | None) -> None:
    if not cfg.allow_folder_ingest:
        st.info("Ingesting folders from this machine is turned off in the config file.")
        return
    path = st.text_input("Folder or file on this machine", placeholder="/data/records").strip()
    group_by = st.radio("One document per", ["file", "patient", "folder"], horizontal=True,
                        help="patient: merge every record of one patient into one whole history")
    if not st.button("Ingest folder", disabled=not path or collection is None, type="primary"):
        return
    target = Path(path).expanduser()
    if not target.exists():
        st.session_state[REPORT_KEY] = {"collection": collection, "error": f"{target} does not exist"}
    else:
        _ingest(cfg, collection, [target], group_by)
    st.rerun()


def _browse(cfg, names: list[str]) -> None:
    data_dir = cfg.settings.data_dir
    name = st.selectbox("Collection", names, key="browse_collection")
    summaries = catalog.documents(data_dir, name)
    query = st.text_input("Search titles and metadata", placeholder="P0007 diabetes").strip()
    found = catalog.search(summaries, query)
    st.caption(f"{len(found)} of {len(summaries)} document(s)")
    st.dataframe(
        [{"id": d.doc_id, "title": d.title, "kind": d.metadata.get("kind", ""),
          "patient": d.metadata.get("patient_id", ""), "tokens": d.n_tokens,
          "source": d.metadata.get("source", "")} for d in found],
        hide_index=True, width="stretch",
    )
    ids = [d.doc_id for d in found]
    if not ids:
        return
    cols = st.columns([3, 1])
    chosen = cols[0].selectbox("Document", ids, key="browse_doc")
    cols[1].button("View", key="browse_view", on_click=open_document, args=(OWNER, chosen))
    state = viewer_state(OWNER)
    if state is not None and state["doc_id"] in ids:
        document_viewer(OWNER, catalog.document(data_dir, name, state["doc_id"]), [], None)
    _remove(data_dir, name, ids)


def _remove(data_dir: Path, name: str, ids: list[str]) -> None:
    with st.expander("Remove documents"):
        doomed = st.multiselect("Documents to remove", ids, key="remove_ids")
        sure = st.checkbox("Yes, remove them from the collection (files on disk are kept)", key="remove_ok")
        if st.button("Remove", disabled=not (doomed and sure), key="remove_go"):
            try:
                n = catalog.remove(data_dir, name, doomed)
            except IngestError as e:
                st.error(f"Nothing removed: {e}")
                return
            st.session_state.pop("remove_ids", None)
            st.session_state.pop("remove_ok", None)
            st.toast(f"Removed {n} document(s) from {name}")
            st.rerun()


def render() -> None:
    cfg = current_config()
    st.title("Documents")
    names = _collections_table(cfg.settings.data_dir)
    st.subheader("Add documents")
    collection = _target(names, st.session_state.get("docqa_collection") or cfg.default_collection)
    upload, folder = st.tabs(["Upload files", "Folder on this machine"])
    with upload:
        _upload_tab(cfg, collection)
    with folder:
        _folder_tab(cfg, collection)
    _show_report()
    if names:
        st.subheader("Browse")
        _browse(cfg, names)


render()
