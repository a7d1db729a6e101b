"""Grouping read documents into the documents a collection stores (ReadOptions.group_by).

- "file": documents as the readers made them (one per file; one per patient for FHIR inputs).
- "patient": every document that carries ``metadata["patient_id"]`` (FHIR, C-CDA, notes whose front
  matter names a patient) merges into one document per patient, id = the patient id, parts in
  chronological order (by ``first_date``, undated last), so a patient's whole history is one prompt
  unit whatever mix of files it came from. Documents without a patient pass through unchanged.
- "folder": each folder's documents merge into one, id = the folder path relative to the root.

In every mode, documents that share a ``doc_id`` are merged rather than left to overwrite each other
(two FHIR exports of one patient, two inputs with the same relative path): ids are unique in a
collection, and losing half a record silently would be worse than a longer document.

A merged document's text joins the parts, each introduced by a ``## <title> (<source>)`` line;
its metadata keeps the first part's keys, widens ``first_date``/``last_date``, and lists ``sources``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from ingest.readers.base import GROUP_MODES, make_doc_id
from ingest.types import ParsedDocument


def _group_key(doc: ParsedDocument, group_by: str) -> str:
    if group_by == "patient" and doc.metadata.get("patient_id"):
        return make_doc_id(str(doc.metadata["patient_id"]))
    if group_by == "folder":
        folder = posixpath.dirname(doc.source.split("#", 1)[0])
        return make_doc_id(folder or ".")
    return doc.doc_id


def _chronological(doc: ParsedDocument) -> tuple:
    return (doc.metadata.get("first_date") or "9999", doc.source, doc.doc_id)


def merge(doc_id: str, parts: list[ParsedDocument], group_by: str) -> ParsedDocument:
    """One document from several: texts joined under per-part headings, metadata widened."""
    if len(parts) == 1 and parts[0].doc_id == doc_id:
        return parts[0]
    parts = sorted(parts, key=_chronological if group_by == "patient" else (lambda d: (d.source, d.doc_id)))
    metadata = dict(parts[0].metadata)
    for part in parts[1:]:
        for key, value in part.metadata.items():
            metadata.setdefault(key, value)
    firsts = [p.metadata["first_date"] for p in parts if p.metadata.get("first_date")]
    lasts = [p.metadata["last_date"] for p in parts if p.metadata.get("last_date")]
    if firsts:
        metadata["first_date"] = min(firsts)
    if lasts:
        metadata["last_date"] = max(lasts)
    sources = []
    for part in parts:
        sources += part.metadata.get("sources") or [part.source]
    metadata["sources"] = list(dict.fromkeys(sources))
    metadata["parts"] = [p.doc_id for p in parts]
    metadata["kinds"] = sorted({p.kind for p in parts})
    if group_by == "folder":
        title = doc_id if doc_id != "." else "(top folder)"
    elif group_by == "patient" and metadata.get("name"):
        title = str(metadata["name"])
    else:
        title = parts[0].title
    text = "\n\n".join(f"## {p.title} ({p.source})\n\n{p.text}" for p in parts)
    kind = parts[0].kind if len({p.kind for p in parts}) == 1 else "group"
    return ParsedDocument(
        doc_id=doc_id, title=title, text=text, source=parts[0].source, kind=kind, metadata=metadata
    )


def group_documents(docs: Iterable[ParsedDocument], group_by: str = "file") -> list[ParsedDocument]:
    """Merge documents per ``group_by`` (see the module docstring); output sorted by doc_id."""
    if group_by not in GROUP_MODES:
        raise ValueError(f"group_by must be one of {GROUP_MODES}, not {group_by!r}")
    groups: dict[str, list[ParsedDocument]] = {}
    for doc in docs:
        groups.setdefault(_group_key(doc, group_by), []).append(doc)
    return [merge(doc_id, parts, group_by) for doc_id, parts in sorted(groups.items())]
