"""CSV and TSV tables (own code: llama-index-core's pandas-free CSV handling joins cells without
their column names, which makes a chunk from the middle of a table unreadable).

Each row renders as one line of ``column: value`` pairs, so any chunk of the text still says what its
numbers mean. ``ReadOptions.csv_mode`` picks the grouping: "file" (one document per file) or "row"
(one per row, or one per distinct ``csv_key`` value, rows in file order). Row-mode ids are
``<path>#row=<n>`` or ``<path>#<key>=<value>``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ingest.errors import ReaderError
from ingest.readers.base import ReadOptions, decode_text, make_doc_id, read_bytes, relative_posix
from ingest.types import ParsedDocument


def _parse(text: str, path: Path) -> tuple[list[str], list[list[str]]]:
    sample = text[:65536]
    if path.suffix.lower() == ".tsv":
        dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
    csv.field_size_limit(16 * 2**20)  # one cell may hold a whole note; the file size limit bounds it
    try:
        rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ReaderError(f"malformed CSV: {exc}", path) from None
    if not rows:
        raise ReaderError("CSV has no rows", path)
    header = [" ".join(h.split()) or f"column {i + 1}" for i, h in enumerate(rows[0])]
    return header, rows[1:]


def _row_line(header: list[str], row: list[str]) -> str:
    pairs = []
    for i, cell in enumerate(row):
        value = " ".join(cell.split())
        if value:
            name = header[i] if i < len(header) else f"column {i + 1}"
            pairs.append(f"{name}: {value}")
    return "; ".join(pairs)


def read_csv(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """One document per file, per row, or per key value, as ``options.csv_mode`` says."""
    text = decode_text(read_bytes(path, options), path, options, what="CSV file")
    header, rows = _parse(text, path)
    if not rows:
        raise ReaderError("CSV has a header but no data rows", path)
    rel = relative_posix(path, root)
    base = {"path": rel, "kind": "csv", "columns": header}
    if options.csv_mode == "file":
        body = "\n".join(_row_line(header, row) for row in rows)
        return [_doc(rel, path.name, body, {**base, "rows": len(rows)})]
    if options.csv_key is None:
        return [
            _doc(f"{rel}#row={n}", f"{path.name} row {n}", _row_line(header, row), {**base, "row": n})
            for n, row in enumerate(rows, start=1)
        ]
    if options.csv_key not in header:
        raise ReaderError(
            f"CSV has no column {options.csv_key!r} to group rows by; its columns are: {', '.join(header)}",
            path,
        )
    key_index = header.index(options.csv_key)
    groups: dict[str, list[list[str]]] = {}
    for row in rows:
        value = " ".join(row[key_index].split()) if key_index < len(row) else ""
        groups.setdefault(value or "(blank)", []).append(row)
    return [
        _doc(
            f"{rel}#{options.csv_key}={value}",
            f"{path.name}: {options.csv_key} {value}",
            "\n".join(_row_line(header, row) for row in group),
            {**base, "rows": len(group), "key_column": options.csv_key, "key_value": value},
        )
        for value, group in groups.items()
    ]


def _doc(raw_id: str, title: str, text: str, metadata: dict) -> ParsedDocument:
    return ParsedDocument(
        doc_id=make_doc_id(raw_id),
        title=title,
        text=text,
        source=metadata["path"],
        kind="csv",
        metadata=metadata,
    )
