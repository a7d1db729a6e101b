"""Batch test helpers. The tiny checkpoint, the embedder and the "clinic" collection (3 patients, 2
monographs) come from tests/app/conftest.py."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.batch.questions import parse_questions
from model.backend import ChatBackend

QUESTIONS_YAML = """\
questions:
  - id: meds
    text: What are the current medications?
    format: list
  - id: dx
    text: Which diagnoses are documented?
"""
PATIENTS = ["P0001", "P0002", "P0003"]
MAX_TOKENS = 4  # the random-weights model writes noise: a few tokens exercise the whole path


@pytest.fixture
def questions():
    return parse_questions(QUESTIONS_YAML, "yaml")


@pytest.fixture
def questions_file(tmp_path) -> Path:
    path = tmp_path / "questions.yaml"
    path.write_text(QUESTIONS_YAML)
    return path


def read_lines(path: Path) -> list[dict]:
    """Every line must be a whole JSON record: a torn line fails the test here."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


def answers(records: list[dict]) -> dict[tuple, tuple]:
    """The final result per (document, question): what a user would compare across runs."""
    out = {}
    for r in records:
        out[(r["doc_id"], r["question_id"])] = (r["status"], r["answer"], r["tokens_in"], r["tokens_out"])
    return out


class Delegate(ChatBackend):
    """A real backend seen through a hook: tests make one request fail, stop a run, or count streams."""

    def __init__(self, inner: ChatBackend, before_stream=None) -> None:
        self.inner = inner
        self.before_stream = before_stream

    name = property(lambda self: self.inner.name)
    context_window = property(lambda self: self.inner.context_window)
    random_weights = property(lambda self: self.inner.random_weights)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_messages(self, messages) -> int:
        return self.inner.count_messages(messages)

    def info(self) -> dict:
        return self.inner.info()

    def stream_chat(self, messages, params, should_stop=None) -> Iterator[str]:
        if self.before_stream is not None:
            self.before_stream(messages)
        yield from self.inner.stream_chat(messages, params, should_stop=should_stop)
