"""group_documents(): file, patient and folder grouping."""

import pytest

from ingest.readers import group_documents
from ingest.types import ParsedDocument


def _doc(doc_id, source, text, **meta):
    return ParsedDocument(doc_id=doc_id, title=doc_id, text=text, source=source, kind="text", metadata=meta)


DOCS = [
    _doc(
        "P1",
        "fhir/p1.json",
        "FHIR history",
        patient_id="P1",
        name="Ann Ash",
        first_date="2010-01-01",
        last_date="2015-01-01",
    ),
    _doc(
        "note-7",
        "notes/2020-visit.md",
        "Visit note",
        patient_id="P1",
        first_date="2020-03-03",
        last_date="2020-03-03",
    ),
    _doc("notes/misc.md", "notes/misc.md", "Unrelated"),
]


def test_file_mode_keeps_documents_apart():
    assert [d.doc_id for d in group_documents(DOCS, "file")] == ["P1", "note-7", "notes/misc.md"]


def test_patient_mode_merges_chronologically_under_the_patient_id():
    grouped = {d.doc_id: d for d in group_documents(DOCS, "patient")}
    assert set(grouped) == {"P1", "notes/misc.md"}
    p1 = grouped["P1"]
    assert p1.title == "Ann Ash"
    assert p1.text.index("FHIR history") < p1.text.index("Visit note")
    assert "## note-7 (notes/2020-visit.md)" in p1.text
    assert (p1.metadata["first_date"], p1.metadata["last_date"]) == ("2010-01-01", "2020-03-03")
    assert p1.metadata["sources"] == ["fhir/p1.json", "notes/2020-visit.md"]


def test_folder_mode_merges_each_folder():
    grouped = {d.doc_id: d for d in group_documents(DOCS, "folder")}
    assert set(grouped) == {"fhir", "notes"}
    assert grouped["notes"].text.index("Visit note") < grouped["notes"].text.index("Unrelated")


def test_same_id_is_merged_not_overwritten_and_bad_mode_rejected():
    twice = [_doc("P9", "a.json", "first export"), _doc("P9", "b.json", "second export")]
    [merged] = group_documents(twice, "file")
    assert "first export" in merged.text and "second export" in merged.text
    with pytest.raises(ValueError):
        group_documents(DOCS, "ward")
