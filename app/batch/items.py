"""Items (one question about one document, or about the collection) and the records they produce.

An item's fingerprint hashes what its answer depends on: the run's settings (mode, model, sampling,
budget, prompt wording), the question as asked, and the document's content hash. A resumed run skips
an item only when a successful record with the same key *and* fingerprint exists, so an edited
question, a re-ingested document or a different model is redone, never silently taken as done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from app.batch.questions import Question
from app.types import Answer
from model.backend import BackendError, BackendUnavailable, PromptTooLong

RECORD_VERSION = 1


def digest(value: object, n: int = 16) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class Item:
    doc_id: str | None  # None in retrieval mode: the question is about the collection
    question: Question
    fingerprint: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.doc_id or "", self.question.id)

    @classmethod
    def make(cls, doc_id: str | None, content_hash: str, question: Question, run_hash: str) -> Item:
        return cls(doc_id, question, digest([run_hash, question.fingerprint(), content_hash]))


class ItemError(Exception):
    """One item failed before or during generation; the run records it and goes on."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def error_kind(e: Exception) -> str:
    """A short, stable name for the report: what a user would do differs by kind."""
    kind = getattr(e, "kind", None)
    if isinstance(kind, str):
        return kind
    if isinstance(e, PromptTooLong):
        return "too_long"
    if isinstance(e, BackendUnavailable):
        return "model_unavailable"
    if isinstance(e, BackendError):
        return "model_failed"
    return "internal"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _base(item: Item, run_hash: str, mode: str) -> dict:
    return {"v": RECORD_VERSION, "doc_id": item.doc_id, "question_id": item.question.id,
            "item": item.fingerprint, "run": run_hash, "mode": mode, "question": item.question.text,
            "format": item.question.format.kind}


def error_record(item: Item, run_hash: str, mode: str, kind: str, message: str) -> dict:
    return {**_base(item, run_hash, mode), "status": "failed", "error": {"kind": kind, "message": message},
            "answer": "", "parsed": None, "format_error": None, "citations": [], "invalid_citations": [],
            "tokens_in": 0, "tokens_out": 0, "documents": [], "dropped": [], "timings": {},
            "finished_at": _now()}


def answer_record(item: Item, run_hash: str, mode: str, answer: Answer, kind: str | None = None,
                  **extra) -> dict:
    """The record of an answered item (``kind`` names a failure); ``extra`` adds mode-specific facts."""
    d = answer.to_dict()
    parsed, format_error = item.question.format.parse(answer.text) if answer.ok else (None, None)
    error = {"kind": kind or "model_failed", "message": answer.error} if answer.error else None
    return {
        **_base(item, run_hash, mode), "status": answer.status, "error": error, "answer": answer.text,
        "parsed": parsed, "format_error": format_error, "random_weights": answer.random_weights,
        "citations": d["citations"], "invalid_citations": d["invalid_citations"],
        "evidence_answer": d["evidence_answer"],
        "tokens_in": answer.timings.prompt_tokens, "tokens_out": answer.timings.output_tokens,
        "documents": d["packed"]["documents"], "dropped": d["packed"]["dropped"],
        "timings": d["timings"], "finished_at": _now(), **extra,
    }
