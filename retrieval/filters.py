"""Metadata filters over document summaries: patient, date range, kind, source path pattern.

Filters act on documents, not chunks, so the dense and lexical rankers see exactly the same allowed set.
A document's dates are its ``first_date``/``last_date`` metadata (or a single ``date``); a date-range
filter keeps documents whose span overlaps the range, and drops undated documents.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.errors import BadFilter


def _parse_date(value: str | dt.date | None, field_name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    # Accept full timestamps ("2021-03-04T10:00:00Z") and partial dates ("2021", "2021-03").
    for size, fmt in ((10, "%Y-%m-%d"), (7, "%Y-%m"), (4, "%Y")):
        try:
            return dt.datetime.strptime(text[:size], fmt).date()
        except ValueError:
            continue
    raise BadFilter(f"{field_name}: cannot read {text!r} as a date; use YYYY-MM-DD")


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def document_dates(metadata: dict) -> tuple[dt.date | None, dt.date | None]:
    """A document's (first, last) dates from its metadata; (None, None) when it has none we can read."""
    first = metadata.get("first_date") or metadata.get("date")
    last = metadata.get("last_date") or metadata.get("date") or first
    try:
        return _parse_date(first, "first_date"), _parse_date(last, "last_date")
    except BadFilter:
        return None, None


@dataclass(frozen=True)
class Filters:
    """Which documents may be retrieved. Every field is optional; set fields combine with AND.

    ``patient_id``, ``kind`` and ``source`` accept one value or several (any may match). ``source`` is
    a glob over the document's source path ("notes/*.md", "**/cardiology/*"). ``date_from`` and
    ``date_to`` are inclusive ISO dates.
    """

    patient_id: str | tuple[str, ...] | None = None
    date_from: str | dt.date | None = None
    date_to: str | dt.date | None = None
    kind: str | tuple[str, ...] | None = None
    source: str | tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        start = _parse_date(self.date_from, "date_from")
        end = _parse_date(self.date_to, "date_to")
        if start and end and start > end:
            raise BadFilter(f"date_from {start} is after date_to {end}")

    @property
    def active(self) -> bool:
        return any(v not in (None, "", ()) for v in (self.patient_id, self.date_from, self.date_to,
                                                      self.kind, self.source))

    def matches(self, doc_id: str, metadata: dict) -> bool:
        """True when a document with this id and metadata passes every set filter."""
        patients = _as_tuple(self.patient_id)
        if patients and str(metadata.get("patient_id", "")) not in patients:
            return False
        kinds = _as_tuple(self.kind)
        if kinds and not ({str(metadata.get("kind", "")), str(metadata.get("format", ""))} & set(kinds)):
            return False
        patterns = _as_tuple(self.source)
        if patterns:
            source = str(metadata.get("source", doc_id))
            if not any(fnmatch.fnmatchcase(source, p) for p in patterns):
                return False
        return self._dates_overlap(metadata)

    def _dates_overlap(self, metadata: dict) -> bool:
        start = _parse_date(self.date_from, "date_from")
        end = _parse_date(self.date_to, "date_to")
        if start is None and end is None:
            return True
        first, last = document_dates(metadata)
        if first is None:
            return False
        if end is not None and first > end:
            return False
        return not (start is not None and (last or first) < start)

    def describe(self) -> str:
        """A short description for logs and the CLI (filter values are ids and dates, not text)."""
        parts = [f"{name}={value}" for name, value in self.__dict__.items() if value not in (None, "", ())]
        return ", ".join(parts) or "none"
