"""PDF, DOCX, HTML and CSV readers on small real files."""

from pathlib import Path

import docx
import pytest

from ingest.errors import ReaderError
from ingest.readers import ReadOptions, read_path

from .conftest import make_pdf


def test_pdf_pages_form_one_document_with_page_offsets(tmp_path: Path):
    path = make_pdf(
        tmp_path / "report.pdf",
        ["Echocardiogram report", "", "Ejection fraction 55 percent"],
        title="Echo 2023",
    )
    [doc] = read_path(path, tmp_path, ReadOptions())
    assert doc.title == "Echo 2023" and doc.kind == "pdf" and doc.doc_id == "report.pdf"
    assert doc.text.startswith("Echocardiogram report") and "Ejection fraction 55 percent" in doc.text
    assert doc.metadata["pages"] == 3 and doc.metadata["pages_without_text"] == [2]
    third = doc.metadata["page_starts"][2]
    assert doc.text[third:].startswith("Ejection fraction")


def _make_docx(path: Path) -> Path:
    d = docx.Document()
    d.core_properties.title = "Referral letter"
    d.add_heading("Referral", level=1)
    d.add_paragraph("Dear colleague, please see Mr Smith.")
    d.add_paragraph("metformin 500 mg", style="List Bullet")
    d.add_paragraph("lisinopril 10 mg", style="List Bullet")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Test", "Result"
    table.cell(1, 0).text, table.cell(1, 1).text = "HbA1c", "7.9 %"
    d.add_paragraph("Kind regards.")
    d.save(path)
    return path


def test_docx_paragraphs_lists_and_tables_in_order(tmp_path: Path):
    [doc] = read_path(_make_docx(tmp_path / "letter.docx"), tmp_path, ReadOptions())
    assert doc.title == "Referral letter"
    assert doc.text == (
        "# Referral\n\nDear colleague, please see Mr Smith.\n\n- metformin 500 mg\n- lisinopril 10 mg\n\n"
        "Test | Result\nHbA1c | 7.9 %\n\nKind regards."
    )


def test_html_main_text_without_chrome(tmp_path: Path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Sepsis guideline</title><style>p{color:red}</style></head><body>"
        "<nav>Home | About</nav><header>Hospital intranet</header>"
        "<h1>Sepsis</h1><p>Give antibiotics within <b>one hour</b>.</p>"
        "<ul><li>Lactate</li><li>Blood cultures</li></ul>"
        "<table><tr><th>Drug</th><th>Dose</th></tr><tr><td>Ceftriaxone</td><td>2 g</td></tr></table>"
        "<script>alert('x')</script><footer>Copyright</footer></body></html>",
        encoding="utf-8",
    )
    [doc] = read_path(path, tmp_path, ReadOptions())
    assert doc.title == "Sepsis guideline"
    assert doc.text == (
        "# Sepsis\n\nGive antibiotics within one hour.\n\n- Lactate\n- Blood cultures\n\n"
        "Drug | Dose\nCeftriaxone | 2 g"
    )


def test_html_deep_nesting_does_not_overflow(tmp_path: Path):
    path = tmp_path / "deep.html"
    path.write_text("<div>" * 20000 + "deep text" + "</div>" * 20000, encoding="utf-8")
    [doc] = read_path(path, tmp_path, ReadOptions())
    assert doc.text == "deep text"


CSV = (
    "patient_id,date,test,value\nP1,2023-01-02,HbA1c,7.1\nP2,2023-01-05,HbA1c,6.2\nP1,2023-04-02,HbA1c,6.8\n"
)


def test_csv_one_document_per_file_with_column_names_on_every_row(tmp_path: Path):
    (tmp_path / "labs.csv").write_text(CSV, encoding="utf-8")
    [doc] = read_path(tmp_path / "labs.csv", tmp_path, ReadOptions())
    assert doc.text.split("\n")[0] == "patient_id: P1; date: 2023-01-02; test: HbA1c; value: 7.1"
    assert doc.metadata["rows"] == 3 and doc.metadata["columns"] == ["patient_id", "date", "test", "value"]


def test_csv_rows_grouped_by_key_column(tmp_path: Path):
    (tmp_path / "labs.csv").write_text(CSV, encoding="utf-8")
    docs = read_path(tmp_path / "labs.csv", tmp_path, ReadOptions(csv_mode="row", csv_key="patient_id"))
    by_id = {d.doc_id: d for d in docs}
    assert set(by_id) == {"labs.csv#patient_id=P1", "labs.csv#patient_id=P2"}
    assert by_id["labs.csv#patient_id=P1"].text.count("\n") == 1  # two rows, file order
    assert by_id["labs.csv#patient_id=P1"].metadata["key_value"] == "P1"


def test_csv_one_document_per_row_and_missing_key_column(tmp_path: Path):
    (tmp_path / "labs.csv").write_text(CSV, encoding="utf-8")
    rows = read_path(tmp_path / "labs.csv", tmp_path, ReadOptions(csv_mode="row"))
    assert [d.doc_id for d in rows] == ["labs.csv#row=1", "labs.csv#row=2", "labs.csv#row=3"]
    with pytest.raises(ReaderError, match="no column 'mrn'.*patient_id, date, test, value"):
        read_path(tmp_path / "labs.csv", tmp_path, ReadOptions(csv_mode="row", csv_key="mrn"))
