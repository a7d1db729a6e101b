"""Uploaded files: checked against the type allow-list and the size limit, then kept on disk for ingest.

Uploads are untrusted: the name is reduced to a safe file name (no folders, no whitespace or brackets,
so the document id derived from it can be cited as ``[doc_id]``), the extension must be one the
readers support, and the size must be under the configured limit. Accepted files are written
atomically under ``<data_dir>/.uploads/<collection>/`` (a dot folder is never taken for a collection),
where they stay: the store records them as the documents' sources.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ingest.store import validate_name

UPLOADS_DIR = ".uploads"


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str


def safe_filename(name: str) -> str:
    """The last path component, with anything but letters, digits, '.', '-' and '_' replaced by '_'."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    return base[:120] or "upload"


def check(name: str, size: int, allowed: tuple[str, ...], max_bytes: int) -> str | None:
    """Why this upload is refused, in words; None when it is fine."""
    ext = Path(name).suffix.lower()
    if ext not in allowed:
        shown = ", ".join(allowed[:12]) + (", …" if len(allowed) > 12 else "")
        return f"unsupported file type {ext or '(no extension)'}; supported: {shown}"
    if size > max_bytes:
        return f"{size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB upload limit"
    if size == 0:
        return "the file is empty"
    return None


def upload_dir(data_dir: Path, collection: str) -> Path:
    return Path(data_dir) / UPLOADS_DIR / validate_name(collection)


def save(files: list[tuple[str, bytes]], folder: Path, allowed: tuple[str, ...],
         max_bytes: int) -> tuple[list[Path], list[Rejected]]:
    """Write the acceptable files (atomically: temp file, fsync, rename) and list the refused ones."""
    folder.mkdir(parents=True, exist_ok=True)
    saved, rejected = [], []
    for name, data in files:
        reason = check(name, len(data), allowed, max_bytes)
        if reason:
            rejected.append(Rejected(name, reason))
            continue
        target = folder / safe_filename(name)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            rejected.append(Rejected(name, f"cannot save it: {e.strerror or e}"))
            continue
        saved.append(target)
    return saved, rejected
