"""Retrieval errors: each carries a one-line message a user can act on.

They subclass ValueError because each one is a bad argument (an empty question, a budget that cannot
hold the question), not a broken system; store-level errors stay ``ingest.errors`` types.
"""

from __future__ import annotations


class RetrievalError(ValueError):
    """Base class for retrieval errors."""


class EmptyQuestion(RetrievalError):
    """The question is empty or only whitespace."""


class QuestionTooLong(RetrievalError):
    """The system prompt and question alone do not fit the budget, so no document can be packed."""


class BadFilter(RetrievalError):
    """A metadata filter value cannot be understood (for example a malformed date)."""
