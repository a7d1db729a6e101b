"""What every reader shares: options, safe byte reading, text decoding and document ids.

Readers never trust a file: size is checked before reading, only regular files are opened (a FIFO
would block forever), text must be UTF-8 (or a configured fallback encoding), and every failure becomes
one :class:`~ingest.errors.ReaderError` line a user can act on.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.errors import ReaderError

GROUP_MODES = ("file", "patient", "folder")
CSV_MODES = ("file", "row")


@dataclass(frozen=True)
class ReadOptions:
    """How files become documents. Built at the edge (CLI flags) and passed to every reader.

    group_by: "file" keeps one document per file (one per patient for multi-patient FHIR inputs);
        "patient" merges every document that carries a ``patient_id`` (FHIR, C-CDA, notes whose front
        matter names a patient) into one history per patient; "folder" merges each folder's files
        into one document. Applied by :func:`ingest.readers.group_documents`, not by the readers.
    csv_mode: "file" makes one document per CSV file; "row" one per row, or one per distinct value
        of ``csv_key`` when that is set (e.g. all lab rows of one patient together).
    csv_key: the column that groups rows in "row" mode.
    max_bytes: files larger than this are refused with a message, never half-read; 200 MiB is far
        above any real clinical document and well below what a 24 GiB machine can hold while parsing.
    fallback_encoding: when set (e.g. "cp1252"), text that is not valid UTF-8 is decoded with it
        instead of being rejected; off by default so mis-encoded files are noticed, not garbled.
    """

    group_by: str = "file"
    csv_mode: str = "file"
    csv_key: str | None = None
    max_bytes: int = 200 * 2**20
    fallback_encoding: str | None = None

    def __post_init__(self):
        if self.group_by not in GROUP_MODES:
            raise ValueError(f"group_by must be one of {GROUP_MODES}, not {self.group_by!r}")
        if self.csv_mode not in CSV_MODES:
            raise ValueError(f"csv_mode must be one of {CSV_MODES}, not {self.csv_mode!r}")
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")


def display_path(path: Path | str) -> str:
    """A printable path: undecodable bytes in file names become %XX instead of lone surrogates.

    Python maps such bytes to surrogates, which SQLite and JSON refuse; %XX keeps them distinct.
    """
    text = os.fspath(path)
    return re.sub(r"[\udc80-\udcff]", lambda m: f"%{ord(m.group()) - 0xDC00:02X}", text)


def relative_posix(path: Path, root: Path) -> str:
    """The file's path relative to the root, with forward slashes (the default document id)."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(path.name)
    return display_path(PurePosixPath(*rel.parts)) if rel.parts else display_path(path.name)


_ID_UNSAFE = re.compile(r"[\s\[\]%\x00-\x1f\x7f\u0080-\u009f\u200b-\u200f\u2028\u2029\ufeff]")


def make_doc_id(raw: str) -> str:
    """Make an id citable as ``[doc_id]``: whitespace, brackets, controls and % become %XX.

    Percent-encoding (not replacement) keeps distinct names distinct: "a b" and "a_b" stay apart.
    """
    encoded = _ID_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), raw)
    return encoded or "unnamed"


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop: the link points back to itself; remove or fix the link"
    if exc.errno == errno.ENOENT:
        return "file not found (a broken symlink, or removed while reading)"
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: the file is not readable by this user; check its permissions"
    return f"cannot read file: {exc.strerror or exc}"


def read_bytes(path: Path, options: ReadOptions) -> bytes:
    """Read a whole regular file, refusing empty, oversized and non-regular files.

    The size is checked on the opened file descriptor and the read is capped, so a file that grows
    between stat and read (a log being written) still cannot exceed the limit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ReaderError(_os_reason(exc), path) from exc
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ReaderError("is a folder that could not be listed (permission denied?)", path)
        if not stat.S_ISREG(st.st_mode):
            raise ReaderError("not a regular file (device, FIFO or socket); skipped", path)
        if st.st_size > options.max_bytes:
            raise ReaderError(
                f"file is {_mib(st.st_size)}, over the {_mib(options.max_bytes)} size limit "
                "(raise ReadOptions.max_bytes / --max-bytes to ingest it)",
                path,
            )
        chunks, total = [], 0
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            total += len(block)
            if total > options.max_bytes:
                raise ReaderError(f"file grew past the {_mib(options.max_bytes)} size limit while read", path)
            chunks.append(block)
    except OSError as exc:
        raise ReaderError(_os_reason(exc), path) from exc
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if not data:
        raise ReaderError("empty file (0 bytes): nothing to ingest", path)
    return data


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def looks_binary(data: bytes) -> bool:
    """True when the first 8 KiB hold NUL bytes or mostly control bytes: not a text file."""
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text has NULs by design
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return bool(head) and controls / len(head) > 0.1


def decode_text(data: bytes, path: Path, options: ReadOptions, what: str = "text file") -> str:
    """Decode text bytes: BOM-marked UTF-8/16, else UTF-8, else the configured fallback encoding.

    Binary content under a text extension and invalid UTF-8 are refused with the byte offset, so the
    user can find the problem; NUL-free Latin-1 files are the common case and the message says how
    to convert them or which option accepts them.
    """
    if looks_binary(data):
        nul = data.find(b"\x00")
        where = f" (NUL byte at offset {nul})" if nul >= 0 else ""
        raise ReaderError(f"binary content in a {what}{where}; this is not text", path)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _normalize_newlines(data[len(bom) :].decode(encoding))
            except UnicodeDecodeError as exc:
                raise ReaderError(
                    f"invalid {encoding} after its byte-order mark at byte {exc.start}", path
                ) from None
    try:
        return _normalize_newlines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        if options.fallback_encoding:
            try:
                return _normalize_newlines(data.decode(options.fallback_encoding))
            except (UnicodeDecodeError, LookupError):
                pass
        raise ReaderError(
            f"invalid UTF-8 at byte {exc.start}; convert the file to UTF-8 (e.g. iconv -f cp1252 -t utf-8) "
            "or set ReadOptions.fallback_encoding",
            path,
        ) from None


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def tidy_text(text: str) -> str:
    """Trim trailing spaces, collapse runs of blank lines to one, strip the ends.

    Paragraphs stay separated by exactly one blank line: retrieval splits sections on that later.
    """
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def require_text(text: str, path: Path, what: str) -> str:
    """Refuse documents that end up with no visible text: an empty document answers nothing."""
    if not text.strip():
        raise ReaderError(f"{what} holds no text", path)
    return text
