"""Plain text and Markdown: body kept as text, front matter becomes metadata and ids."""

from pathlib import Path

from ingest.readers import ReadOptions, read_path


def test_markdown_front_matter_gives_id_title_and_metadata(tmp_path: Path):
    (tmp_path / "patients").mkdir()
    path = tmp_path / "patients" / "P0007.md"
    path.write_text(
        "---\ndoc_id: P0007\ntitle: Maria Lopez, history\nkind: patient_history\npatient_id: P0007\n"
        "birth_date: 1950-02-03\n---\n\n# History\n\nFirst visit.\n\n\n\nSecond visit.\n",
        encoding="utf-8",
    )
    [doc] = read_path(path, tmp_path, ReadOptions())
    assert doc.doc_id == "P0007"
    assert doc.title == "Maria Lopez, history"
    assert doc.text == "# History\n\nFirst visit.\n\nSecond visit."  # paragraphs kept, runs collapsed
    assert doc.metadata["kind"] == "patient_history"
    assert doc.metadata["birth_date"] == "1950-02-03"  # YAML date -> ISO string (JSON-safe)
    assert doc.metadata["path"] == "patients/P0007.md"
    assert doc.source == "patients/P0007.md"


def test_plain_text_id_is_relative_path_and_title_file_name(tmp_path: Path):
    (tmp_path / "notes").mkdir()
    path = tmp_path / "notes" / "discharge summary [final].txt"
    path.write_bytes(b"Discharged home.\r\nFollow up in 2 weeks.\r\n")
    [doc] = read_path(path, tmp_path, ReadOptions())
    assert doc.doc_id == "notes/discharge%20summary%20%5Bfinal%5D.txt"  # citable as [doc_id]
    assert doc.title == "discharge summary [final].txt"
    assert doc.text == "Discharged home.\nFollow up in 2 weeks."


def test_patient_id_is_the_id_without_doc_id(tmp_path: Path):
    path = tmp_path / "n.md"
    path.write_text("---\npatient_id: 12345\n---\nBody text.\n", encoding="utf-8")
    [doc] = read_path(path, tmp_path, ReadOptions())
    assert doc.doc_id == "12345" and doc.metadata["patient_id"] == "12345"


def test_broken_front_matter_keeps_the_whole_file_as_text(tmp_path: Path):
    path = tmp_path / "rule.md"
    path.write_text("---\nkey: [unclosed\n---\nBody.\n", encoding="utf-8")
    [doc] = read_path(path, tmp_path, ReadOptions())
    assert "Body." in doc.text and "unclosed" in doc.text


def test_fallback_encoding_accepts_latin1_when_asked(tmp_path: Path):
    path = tmp_path / "old.txt"
    path.write_bytes("Café au lait, 37,5 °C".encode("cp1252"))
    [doc] = read_path(path, tmp_path, ReadOptions(fallback_encoding="cp1252"))
    assert doc.text == "Café au lait, 37,5 °C"
