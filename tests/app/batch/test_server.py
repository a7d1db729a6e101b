"""Batch over the project's OpenAI-compatible server on 127.0.0.1: requests really run 4 at a time."""

import threading

import pytest

from app.batch.runner import BatchOptions, run_batch
from model.client import OpenAIBackend
from model.serve.app import create_app
from model.serve.thread import ServerThread
from tests.app.batch.conftest import MAX_TOKENS, PATIENTS, Delegate, read_lines


class InFlight(Delegate):
    """Counts the answer streams open at once."""

    def __init__(self, inner):
        super().__init__(inner)
        self.now = self.most = 0
        self.lock = threading.Lock()

    def stream_chat(self, messages, params, should_stop=None):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            yield from self.inner.stream_chat(messages, params, should_stop=should_stop)
        finally:
            with self.lock:
                self.now -= 1


@pytest.fixture(scope="module")
def server_url(engine_backend):
    with ServerThread(create_app(engine_backend.engine)) as server:
        yield server.url + "/v1"


def test_a_server_backend_runs_requests_concurrently_and_answers_like_the_engine(
        data_dir, engine_backend, checkpoint, embedder, questions, server_url, tmp_path):
    client = InFlight(OpenAIBackend(server_url, tokenizer=str(checkpoint)))
    opts = BatchOptions("clinic", max_tokens=MAX_TOKENS, concurrency=4, doc_ids=tuple(PATIENTS))
    # With the embedder, evidence is also found on 4 threads at once (its tokenizer allows one).
    s = run_batch(data_dir, client, questions, opts, tmp_path / "server", progress=False, embedder=embedder)
    assert (s.ok, s.failed, s.workers) == (6, 0, 4) and client.most == 4
    records = read_lines(tmp_path / "server" / "results.jsonl")
    assert sorted((r["doc_id"], r["question_id"]) for r in records) == sorted(
        (p, q) for p in PATIENTS for q in ("meds", "dx"))
    # The same prompt through the server as through the engine: same token counts, same greedy answer.
    p1 = next(r for r in records if r["doc_id"] == "P0001" and r["question_id"] == "meds")
    local = run_batch(data_dir, engine_backend, questions, BatchOptions(
        "clinic", max_tokens=MAX_TOKENS, doc_ids=("P0001",)), tmp_path / "local", progress=False)
    mine = read_lines(tmp_path / "local" / "results.jsonl")[0]
    assert local.ok == 2 and (mine["tokens_in"], mine["answer"]) == (p1["tokens_in"], p1["answer"])
