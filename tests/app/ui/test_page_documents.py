"""The Documents page under AppTest: collection counts, uploads through the real pipeline with the
per-file report, folder ingest into a new collection, search, view and remove."""

from streamlit.testing.v1 import AppTest

from app.ui import catalog
from tests.app.ui.conftest import COLLECTION, MAIN, RUN_TIMEOUT

NOTE = b"""---
doc_id: N0001
title: Discharge note
kind: note
patient_id: P0009
---
Discharged on apixaban 5 mg BID after an uneventful admission for pneumonia.
"""


def _documents_page(monkeypatch=None, **env) -> AppTest:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(MAIN, default_timeout=RUN_TIMEOUT).run()
    at.switch_page("page_documents.py").run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _select(at: AppTest, label: str):
    return next(s for s in at.selectbox if s.label == label)


def test_collections_table_shows_counts(ui_env):
    at = _documents_page()
    table = at.table[0].value
    row = table[table["collection"] == COLLECTION].iloc[0]
    assert int(row["documents"]) == 5 and int(row["chunks"]) >= 5 and row["size"].endswith("MB")


def test_upload_adds_good_files_and_reports_refused_ones(ui_env, monkeypatch):
    at = _documents_page(monkeypatch, DOCQA_UI_MAX_UPLOAD_MB="1")
    _select(at, "Add to collection").set_value(COLLECTION)
    at.file_uploader[0].set_value([
        ("discharge note.md", NOTE, "text/markdown"),
        ("tool.exe", b"MZ\x90\x00binary", "application/octet-stream"),
        ("huge.txt", b"x" * (2 * 1024 * 1024), "text/plain"),
    ])
    at.run()
    _button(at, "Ingest uploaded files").click().run()
    assert not at.exception, at.exception
    assert any(f"{COLLECTION}: 1 added" in s.value for s in at.success), [s.value for s in at.success]
    refused = at.dataframe[0].value
    reasons = dict(zip(refused["file"], refused["reason"], strict=True))
    assert "unsupported file type .exe" in reasons["tool.exe"]
    assert "upload limit" in reasons["huge.txt"]
    assert "N0001" in [d.doc_id for d in catalog.documents(ui_env, COLLECTION)]
    assert (ui_env / ".uploads" / COLLECTION / "discharge_note.md").read_bytes() == NOTE
    assert catalog.collections(ui_env) == [COLLECTION]  # the uploads folder is not a collection


def test_folder_ingest_into_a_new_collection_reports_files_that_failed(ui_env, tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "note.md").write_bytes(NOTE)
    (folder / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy word")
    at = _documents_page()
    _select(at, "Add to collection").set_value("➕ New collection…").run()
    next(t for t in at.text_input if t.label == "New collection name").set_value("records").run()
    next(t for t in at.text_input if t.label == "Folder or file on this machine").set_value(str(folder)).run()
    _button(at, "Ingest folder").click().run()
    assert not at.exception, at.exception
    assert any("records: 1 added" in s.value and "1 failed" in s.value for s in at.success)
    failed = at.dataframe[0].value
    assert list(failed["file"]) == ["old.doc"] and ".docx" in failed["reason"].iloc[0]
    assert catalog.collections(ui_env) == [COLLECTION, "records"]


def test_a_bad_collection_name_or_missing_folder_is_explained(ui_env, tmp_path):
    at = _documents_page()
    _select(at, "Add to collection").set_value("➕ New collection…").run()
    next(t for t in at.text_input if t.label == "New collection name").set_value("bad name!").run()
    assert any("invalid collection name" in e.value for e in at.error)
    assert _button(at, "Ingest folder").disabled
    _select(at, "Add to collection").set_value(COLLECTION).run()
    next(t for t in at.text_input if t.label == "Folder or file on this machine").set_value(
        str(tmp_path / "nowhere")).run()
    _button(at, "Ingest folder").click().run()
    assert any("does not exist" in e.value for e in at.error)


def test_search_view_and_remove_documents(ui_env):
    at = _documents_page()
    next(t for t in at.text_input if t.label == "Search titles and metadata").set_value("monograph").run()
    listed = at.dataframe[0].value
    assert sorted(listed["id"]) == ["ref-metformin", "ref-warfarin"]
    _select(at, "Document").set_value("ref-warfarin").run()
    _button(at, "View").click().run()
    viewer = [h.proto.body for h in at.get("html") if "docqa-doc" in h.proto.body]
    assert viewer and "vitamin K antagonist" in viewer[0]
    with_remove = next(m for m in at.multiselect if m.label == "Documents to remove")
    with_remove.set_value(["ref-warfarin"]).run()
    assert _button(at, "Remove").disabled  # not without the confirmation
    next(c for c in at.checkbox if c.label.startswith("Yes, remove")).check().run()
    _button(at, "Remove").click().run()
    assert not at.exception, at.exception
    assert "ref-warfarin" not in [d.doc_id for d in catalog.documents(ui_env, COLLECTION)]
    assert len(catalog.documents(ui_env, COLLECTION)) == 4
