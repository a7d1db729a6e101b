"""Plain text and Markdown, with YAML front matter turned into metadata (own code).

The body after the front matter is the document text, unchanged apart from newline and blank-line
tidying, so character offsets and citations line up with what the author wrote. Front matter keys
become metadata; ``doc_id`` (else ``patient_id``) becomes the document id and ``title`` the title.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import yaml

from ingest.errors import ReaderError
from ingest.readers.base import (
    ReadOptions,
    decode_text,
    make_doc_id,
    read_bytes,
    relative_posix,
    require_text,
    tidy_text,
)
from ingest.types import ParsedDocument

log = logging.getLogger(__name__)

MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdown", ".mkd"}


def split_front_matter(text: str) -> tuple[dict, str]:
    """Split ``---`` YAML front matter from the body; (metadata, body). No front matter: ({}, text).

    Malformed YAML is not fatal: the whole file stays text and the caller logs a warning, because a
    leading ``---`` is also a Markdown horizontal rule.
    """
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    while end != -1 and text[end + 4 : end + 5] not in ("\n", ""):
        end = text.find("\n---", end + 4)
    if end == -1:
        return {}, text
    try:
        meta = yaml.safe_load(text[4:end])
    except yaml.YAMLError:
        raise ValueError("front matter is not valid YAML") from None
    if not isinstance(meta, dict):
        return {}, text
    return _json_safe(meta), text[end + 4 :].lstrip("\n")


def _json_safe(value):
    """YAML gives dates and other objects; metadata must be JSON: dates become ISO strings."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def read_text(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """One document per text or Markdown file."""
    text = decode_text(read_bytes(path, options), path, options)
    rel = relative_posix(path, root)
    is_markdown = path.suffix.lower() in MARKDOWN_EXTENSIONS
    try:
        meta, body = split_front_matter(text)
    except ValueError as exc:
        log.warning("front matter ignored in %s: %s", rel, exc)
        meta, body = {}, text
    body = require_text(tidy_text(body), path, "the file")
    raw_id = meta.get("doc_id") or meta.get("patient_id") or rel
    if not isinstance(raw_id, str | int):
        raise ReaderError("front matter doc_id must be a string", path)
    title = meta.get("title") if isinstance(meta.get("title"), str) else path.name
    metadata = {k: v for k, v in meta.items() if k not in ("doc_id", "title")}
    metadata.setdefault("path", rel)
    if "patient_id" in metadata:
        metadata["patient_id"] = str(metadata["patient_id"])
    metadata.setdefault("kind", "text")  # front matter may say more: patient_history, guideline, ...
    metadata["format"] = "markdown" if is_markdown else "text"
    return [
        ParsedDocument(
            doc_id=make_doc_id(str(raw_id)),
            title=title,
            text=body,
            source=rel,
            kind="text",
            metadata=metadata,
        )
    ]
