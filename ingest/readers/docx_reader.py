"""Word .docx files with python-docx (own code: llama-index-core ships no DOCX reader, and the
LlamaIndex file reader drops tables, which hold half of a typical clinical letter).

Paragraphs and tables come out in document order; headings become Markdown ``#`` lines and list items
``- `` lines so the section structure survives for retrieval; each table row is one line of cells
joined by `` | ``. The package is checked before parsing: a zip bomb or a password-protected file is
refused with a message instead of exhausting memory or failing obscurely.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.errors import ReaderError
from ingest.readers.base import ReadOptions, make_doc_id, read_bytes, relative_posix, require_text, tidy_text
from ingest.types import ParsedDocument

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: encrypted OOXML or legacy .doc


def _check_package(data: bytes, path: Path, options: ReadOptions) -> None:
    if data.startswith(_OLE_MAGIC):
        raise ReaderError(
            "password-protected DOCX or legacy Word 97-2003 file; save it as an unprotected .docx", path
        )
    if not data.startswith(b"PK"):
        raise ReaderError("corrupt DOCX: not a zip package; re-save it from Word", path)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise ReaderError(f"corrupt DOCX: broken zip package ({exc})", path) from None
    if unpacked > options.max_bytes:
        raise ReaderError(
            f"DOCX unpacks to {unpacked / 2**20:.0f} MiB, over the size limit (zip bomb?); refused", path
        )
    if "word/document.xml" not in names:
        raise ReaderError("corrupt DOCX: the package has no word/document.xml", path)


def _paragraph_line(paragraph: Paragraph) -> str:
    text = " ".join(paragraph.text.split())
    if not text:
        return ""
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    if style == "Title":
        return f"# {text}"
    if style.startswith("Heading"):
        level = style.removeprefix("Heading").strip()
        return f"{'#' * min(int(level) if level.isdigit() else 1, 6)} {text}"
    is_list = style.startswith("List") or paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None
    return f"- {text}" if is_list else text


def _table_lines(table: Table) -> list[str]:
    lines = []
    for row in table.rows:
        cells, previous = [], None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats itself across the span
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def read_docx(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """One document per .docx file: paragraphs and tables in order."""
    data = read_bytes(path, options)
    _check_package(data, path, options)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = []
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                blocks.append(_paragraph_line(item))
            else:
                blocks.append("\n".join(_table_lines(item)))
        title = (document.core_properties.title or "").strip()
    except ReaderError:
        raise
    except Exception as exc:  # python-docx/lxml raise many types on damaged XML
        raise ReaderError(
            f"corrupt DOCX: {type(exc).__name__} while parsing; re-save it from Word", path
        ) from None
    text = require_text(tidy_text(_join_blocks(blocks)), path, "the DOCX")
    rel = relative_posix(path, root)
    return [
        ParsedDocument(
            doc_id=make_doc_id(rel),
            title=" ".join(title.split()) or path.name,
            text=text,
            source=rel,
            kind="docx",
            metadata={"path": rel, "kind": "docx"},
        )
    ]


def _join_blocks(blocks: list[str]) -> str:
    """Blank line between paragraphs, but consecutive list items stay one block (a list)."""
    out: list[str] = []
    for block in blocks:
        if not block:
            continue
        if out and block.startswith("- ") and out[-1].startswith("- "):
            out[-1] += "\n" + block
        else:
            out.append(block)
    return "\n\n".join(out)
