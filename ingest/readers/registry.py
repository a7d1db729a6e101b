"""Which reader reads a file: by extension first, then by a look at the content.

- ``.json``: FHIR (Bundle or resource); inside a code repository, JSON that is not FHIR is code.
- ``.xml``/``.cda``/``.ccda``: C-CDA; inside a code repository, other XML is code.
- ``.ndjson``: FHIR bulk export. ``.csv``/``.tsv``, ``.pdf``, ``.docx``, ``.html``/``.htm``: their readers.
- Markdown and plain-text extensions: the text reader; source extensions: the code reader.
- Anything else is sniffed: text goes to the text reader, binary content is refused with a reason.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from ingest.errors import ReaderError
from ingest.readers.base import ReadOptions, looks_binary
from ingest.readers.ccda import is_ccda, read_ccda
from ingest.readers.code_reader import language_of, read_code
from ingest.readers.csv_reader import read_csv
from ingest.readers.docx_reader import read_docx
from ingest.readers.fhir import read_fhir_json, read_fhir_ndjson
from ingest.readers.html_reader import read_html
from ingest.readers.pdf import read_pdf
from ingest.readers.text import read_text
from ingest.types import ParsedDocument

TEXT_EXTENSIONS = {".txt", ".text", ".md", ".markdown", ".mdown", ".mkd", ".rst", ".log", ".note", ".adoc"}
READERS = {
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
    ".xhtml": read_html,
    ".csv": read_csv,
    ".tsv": read_csv,
    ".ndjson": read_fhir_ndjson,
    **{ext: read_text for ext in TEXT_EXTENSIONS},
}
# Formats people export from office suites: say how to make them readable instead of "binary".
UNSUPPORTED = {
    ".doc": "legacy Word .doc is not supported; save it as .docx",
    ".rtf": "RTF is not supported; save it as .docx or .txt",
    ".odt": "OpenDocument text is not supported; save it as .docx",
    ".xls": "spreadsheets are not supported; export the sheet to CSV",
    ".xlsx": "spreadsheets are not supported; export the sheet to CSV",
    ".ppt": "presentations are not supported; export them to PDF",
    ".pptx": "presentations are not supported; export them to PDF",
}
XML_EXTENSIONS = {".xml", ".cda", ".ccda"}


def known_format(path: Path) -> bool:
    """True when the extension alone decides (a reader, or an unsupported office format to report)."""
    ext = path.suffix.lower()
    return (
        ext in READERS
        or ext in XML_EXTENSIONS
        or ext in UNSUPPORTED
        or ext == ".json"
        or language_of(path) is not None
    )


@functools.lru_cache(maxsize=4096)
def _repository_of(folder: str) -> str | None:
    """The enclosing git work tree of a folder (one with a ``.git`` entry), if any."""
    current = Path(folder)
    for candidate in (current, *current.parents):
        if os.path.lexists(candidate / ".git"):
            return os.fspath(candidate)
    return None


def in_repository(path: Path) -> bool:
    return _repository_of(os.fspath(path.parent.absolute())) is not None


def _head(path: Path, n: int = 65536) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""  # the chosen reader reports the error properly


def pick_reader(path: Path):
    """The reader function for a file."""
    ext = path.suffix.lower()
    if ext in READERS:
        return READERS[ext]
    if ext == ".json":
        if in_repository(path) and b'"resourceType"' not in _head(path):
            return read_code
        return read_fhir_json
    if ext in XML_EXTENSIONS:
        if in_repository(path) and not is_ccda(_head(path)):
            return read_code
        return read_ccda
    if language_of(path) is not None:
        return read_code
    if ext in UNSUPPORTED:
        return None
    return _read_unknown


def _read_unknown(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    head = _head(path, 8192)
    if head and looks_binary(head):
        ext = path.suffix.lower() or "(no extension)"
        raise ReaderError(f"binary file of unsupported type {ext}; no reader for it", path)
    return read_text(path, root, options)


def read_path(path: Path, root: Path, options: ReadOptions | None = None) -> list[ParsedDocument]:
    """Read one file into whole documents. Raises ReaderError with a one-line reason.

    ``root`` is the folder the file was found under: default document ids are paths relative to it.
    May return an empty list (an NDJSON file whose resources belong to a sibling's patients).
    """
    options = options or ReadOptions()
    path, root = Path(path), Path(root)
    reader = pick_reader(path)
    if reader is None:
        raise ReaderError(UNSUPPORTED[path.suffix.lower()], path)
    try:
        return reader(path, root, options)
    except ReaderError as exc:
        if exc.path is None:
            raise ReaderError(exc.reason, path) from None
        raise
    except RecursionError:
        raise ReaderError("structure nested too deeply to read", path) from None
    except MemoryError:
        raise ReaderError("ran out of memory reading this file; it is too large or malformed", path) from None
