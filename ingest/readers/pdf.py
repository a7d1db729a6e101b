"""PDF text layers with pypdf (own code: llama-index-core ships no PDF reader, and pypdf is what the
LlamaIndex file reader wraps anyway).

All pages of a file form one document, pages separated by a blank line; ``metadata["page_starts"]``
holds each page's character offset so a citation can be turned into a page number. A PDF with no
text layer at all (a scan) is an error that says to OCR it, never a silently empty document;
encrypted and corrupt files get their own messages.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

from ingest.errors import ReaderError
from ingest.readers.base import ReadOptions, make_doc_id, read_bytes, relative_posix, tidy_text
from ingest.types import ParsedDocument

log = logging.getLogger(__name__)


def _open(data: bytes, path: Path) -> PdfReader:
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise ReaderError("not a PDF: the file does not start with %PDF; corrupt or misnamed", path)
    try:
        reader = PdfReader(io.BytesIO(data))
    except PdfReadError as exc:
        raise ReaderError(f"corrupt PDF ({_short(exc)}); re-export or repair it", path) from None
    except Exception as exc:  # pypdf raises many types on malformed input
        raise ReaderError(f"corrupt PDF ({type(exc).__name__}); re-export or repair it", path) from None
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")  # owner-password-only PDFs open with an empty user password
        except DependencyError:
            raise ReaderError(
                "encrypted PDF (AES): pip install cryptography to open it, or save a decrypted copy", path
            ) from None
        except Exception as exc:
            raise ReaderError(f"encrypted PDF that cannot be decrypted ({_short(exc)})", path) from None
        if not opened:
            raise ReaderError(
                "encrypted PDF: it needs a password; save a decrypted copy and ingest that", path
            )
    return reader


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:120] or type(exc).__name__


def _page_texts(reader: PdfReader, path: Path) -> list[str]:
    try:
        pages = list(reader.pages)
    except FileNotDecryptedError:
        raise ReaderError(
            "encrypted PDF: it needs a password; save a decrypted copy and ingest that", path
        ) from None
    except Exception as exc:
        raise ReaderError(f"corrupt PDF: its page tree cannot be read ({_short(exc)})", path) from None
    texts = []
    for page in pages:
        try:
            texts.append(tidy_text(page.extract_text() or ""))
        except Exception:  # one broken content stream should not lose the other pages
            texts.append("")
    return texts


def read_pdf(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """One document per PDF: every page's text layer, in page order."""
    reader = _open(read_bytes(path, options), path)
    texts = _page_texts(reader, path)
    if not texts:
        raise ReaderError("PDF has no pages", path)
    empty = [i + 1 for i, t in enumerate(texts) if not t]
    if len(empty) == len(texts):
        raise ReaderError(
            f"scanned PDF: no text layer on any of its {len(texts)} page{'s' if len(texts) > 1 else ''}; "
            "OCR it first",
            path,
        )
    parts, page_starts, offset = [], [], 0
    for text in texts:
        page_starts.append(offset)
        if text:
            parts.append(text)
            offset += len(text) + 2  # the "\n\n" between pages
    rel = relative_posix(path, root)
    metadata = {"path": rel, "kind": "pdf", "pages": len(texts), "page_starts": page_starts}
    if empty:
        metadata["pages_without_text"] = empty
        log.warning("%s: %d of %d pages have no text layer", rel, len(empty), len(texts))
    info = _info(reader)
    metadata.update({k: v for k, v in info.items() if k != "title"})
    return [
        ParsedDocument(
            doc_id=make_doc_id(rel),
            title=info.get("title") or path.name,
            text="\n\n".join(parts),
            source=rel,
            kind="pdf",
            metadata=metadata,
        )
    ]


def _info(reader: PdfReader) -> dict:
    """Title and author from the document info dictionary, when they are real strings."""
    try:
        meta = reader.metadata
    except Exception:
        return {}
    if not meta:
        return {}
    out = {}
    for key, attr in (("title", "title"), ("author", "author")):
        try:
            value = getattr(meta, attr)
        except Exception:
            continue
        if isinstance(value, str) and value.strip():
            out[key] = " ".join(value.split())
    return out
