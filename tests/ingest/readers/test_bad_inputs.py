"""A corpus of bad files: each gets one clear message, good files beside them still go in.

The corpus is built at test time (binary and odd files are easier to make than to commit) and read the
way the pipeline reads: discover(), then read_path() per file, recording each ReaderError.
"""

import json
import os
from pathlib import Path

import pytest

from ingest.errors import ReaderError
from ingest.readers import ReadOptions, discover, read_path

from .conftest import make_pdf

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">'
        % (i, b"".join(b"&lol%d;" % (i - 1) if i > 1 else b"&lol;" for _ in range(10)))
        for i in range(1, 10)
    )
    + b']>\n<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>\n'
)
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&x;</title></ClinicalDocument>\n'
)

# file name -> expected fragment of its one-line message
EXPECTED = {
    "binary.txt": "binary content in a text file (NUL byte at offset 4)",
    "empty.md": "empty file (0 bytes)",
    "latin1.txt": "invalid UTF-8 at byte 3",
    "huge.txt": "over the 0.0 MiB size limit",
    "encrypted.pdf": "encrypted PDF: it needs a password",
    "corrupt.pdf": "corrupt PDF",
    "misnamed.pdf": "not a PDF",
    "scanned.pdf": "scanned PDF: no text layer on any of its 2 pages; OCR it first",
    "corrupt.docx": "corrupt DOCX",
    "protected.docx": "password-protected DOCX",
    "not_fhir.json": "JSON but not FHIR",
    "broken.json": "invalid JSON at line 1",
    "bomb.xml": "refused as a possible entity-expansion bomb",
    "xxe.xml": "refused as a possible entity-expansion bomb",
    "not_ccda.xml": "XML but not a C-CDA document: root element is <note>",
    "loop_a.txt": "symlink loop",
    "dangling_link.txt": "broken symlink",
    "sheet.xlsx": "export the sheet to CSV",
}
GOOD = {"good.md", "odd [name]\twith tab.txt", "caf\udce9-latin1-name.txt", "bomb.html", "dangling_fhir.json"}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "inbox"
    root.mkdir()
    files = {
        "binary.txt": b"abcd\x00\x01\x02\x03" * 100,
        "empty.md": b"",
        "latin1.txt": "café".encode("latin-1"),
        "huge.txt": b"x" * 5000,
        "corrupt.pdf": b"%PDF-1.4\n" + os.urandom(200),
        "misnamed.pdf": b"<html>not a pdf</html>",
        "corrupt.docx": b"PK\x03\x04" + b"\x00" * 64,
        "protected.docx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
        "not_fhir.json": b'{"name": "config", "debug": true}',
        "broken.json": b'{"resourceType": "Patient", ',
        "bomb.xml": BILLION_LAUGHS,
        "xxe.xml": XXE,
        "not_ccda.xml": b"<note><body>hi</body></note>",
        "sheet.xlsx": b"PK\x03\x04" + b"\x00" * 30,
        "good.md": b"---\ndoc_id: good-1\n---\nA good note.\n",
        "odd [name]\twith tab.txt": b"odd name, good text\n",
        "bomb.html": b'<!DOCTYPE html [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<html><body><p>&b;&b;&b; fine</p></body></html>",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / os.fsdecode(b"caf\xe9-latin1-name.txt")).write_bytes(b"file name is not UTF-8\n")
    make_pdf(root / "encrypted.pdf", ["secret"], user_password="pw")
    make_pdf(root / "scanned.pdf", ["", ""])
    os.symlink("loop_b.txt", root / "loop_a.txt")
    os.symlink("loop_a.txt", root / "loop_b.txt")
    os.symlink("nowhere.txt", root / "dangling_link.txt")
    patient = {"resourceType": "Patient", "id": "pz"}
    obs = {
        "resourceType": "Observation",
        "id": "o",
        "subject": {"reference": "Patient/pz"},
        "encounter": {"reference": "Encounter/gone"},
        "code": {"text": "Heart rate"},
        "valueQuantity": {"value": 61, "unit": "/min"},
        "effectiveDateTime": "2024-02-02",
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient}, {"resource": obs}],
    }
    (root / "dangling_fhir.json").write_text(json.dumps(bundle), encoding="utf-8")
    return root


def _read_all(root: Path, options: ReadOptions):
    docs, failures = [], {}
    for path, base in discover([root], options):
        try:
            docs += read_path(path, base, options)
        except ReaderError as err:
            failures[path.name] = str(err)
    return docs, failures


def test_each_bad_file_gets_its_own_one_line_message_and_good_files_go_in(corpus: Path):
    options = ReadOptions(max_bytes=4096)
    docs, failures = _read_all(corpus, options)
    failures.pop("loop_b.txt")  # both ends of the loop report it
    assert set(failures) == set(EXPECTED), failures
    for name, fragment in EXPECTED.items():
        assert fragment in failures[name], (name, failures[name])
        assert "\n" not in failures[name]
    sources = {d.source for d in docs}
    assert {s.replace("%E9", "\udce9") for s in sources} == GOOD
    by_id = {d.doc_id: d for d in docs}
    # odd characters: ids are citable, texts and sources hold no lone surrogates (SQLite/JSON-safe)
    assert "odd%20%5Bname%5D%09with%20tab.txt" in by_id and "caf%25E9-latin1-name.txt" in by_id
    for d in docs:
        d.text.encode("utf-8"), d.source.encode("utf-8"), json.dumps(d.metadata).encode("utf-8")
    # the HTML entity bomb stays inert text; the dangling FHIR reference is rendered, not fatal
    assert "fine" in by_id["bomb.html"].text and "aaaaaaaaaa" not in by_id["bomb.html"].text
    pz = by_id["pz"]
    assert "### 2024-02-02 · encounter (unresolved reference)\n- Heart rate: 61 /min" in pz.text
    assert pz.metadata["warnings"] == ["Observation/o: encounter Encounter/gone not found"]


def test_unreadable_file_is_reported(tmp_path: Path, monkeypatch):
    path = tmp_path / "locked.txt"
    path.write_text("private\n", encoding="utf-8")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the kernel's refusal happen the only way it can
        real_open = os.open

        def refuse(p, *args, **kwargs):
            if Path(p) == path:
                raise PermissionError(13, "Permission denied", str(p))
            return real_open(p, *args, **kwargs)

        monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ReaderError, match="permission denied"):
        read_path(path, tmp_path, ReadOptions())


def test_unlistable_folder_is_yielded_for_reporting(tmp_path: Path, monkeypatch):
    (tmp_path / "private").mkdir()
    real_scandir = os.scandir

    def refuse(p="."):
        if Path(p).name == "private":
            raise PermissionError(13, "Permission denied", str(p))
        return real_scandir(p)

    monkeypatch.setattr(os, "scandir", refuse)
    [(path, _)] = list(discover([tmp_path]))
    assert path.name == "private"
    with pytest.raises(ReaderError, match="folder that could not be listed"):
        read_path(path, tmp_path, ReadOptions())
