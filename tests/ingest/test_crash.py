"""Crash safety: ``add`` killed with SIGKILL at random moments, then re-run, ends where a clean run ends.

An uninterrupted run is timed first (its ``runs`` row gives the ingest phase apart from start-up).
Most kills then wait until the run has registered itself and strike at a random moment of the ingest
phase (reading, embedding, the SQLite commit, the index save); some strike at a random moment of
start-up or collection creation. When a run finishes before its kill, a few files are edited so the
next runs have work again (replacements get killed too). At the end the store must equal a fresh
uninterrupted ingest of the final files.
"""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ingest.store import CollectionStore, verify

REPO = Path(__file__).resolve().parents[2]
MIN_KILLS = 10
N_DOCS = 30


def _write_corpus(folder: Path, n_docs: int = N_DOCS) -> None:
    rng = random.Random(7)
    drugs = ["metformin", "lisinopril", "atorvastatin", "warfarin", "apixaban", "sertraline", "insulin"]
    for i in range(n_docs):
        lines = [f"---\ndoc_id: D{i:03d}\ntitle: Record {i}\n---"]
        for v in range(rng.randint(3, 10)):
            lines.append(f"Visit {v}: {rng.choice(drugs)} {rng.randint(1, 90) * 5} mg; "
                         f"BP {rng.randint(100, 170)}/{rng.randint(60, 100)}. Follow-up in {v + 2} weeks.")
        (folder / f"d{i:03d}.md").write_text("\n".join(lines) + "\n")


def _edit_some(folder: Path, rng: random.Random) -> None:
    for path in rng.sample(sorted(folder.glob("*.md")), 4):
        path.write_text(path.read_text() + f"Addendum {rng.randint(0, 10**6)}: reviewed, no change.\n")


def _command(data_dir: Path, corpus: Path, name: str) -> list[str]:
    return [sys.executable, "-m", "ingest", "--data-dir", str(data_dir), "--tokenizer", "approx:chars/4",
            "add", str(corpus), "-c", name, "--batch-chunks", "6"]


def _env() -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _state(data_dir: Path, name: str) -> dict:
    """doc_id -> (content_hash, n_tokens, [(start, end, vector)]); also checks per-kill invariants."""
    with CollectionStore.open(data_dir, name) as store:
        chunks: dict[str, list] = {}
        rows = store.conn.execute("SELECT doc_id, start_char, end_char, vector FROM chunks ORDER BY chunk_id")
        for doc_id, s, e, blob in rows:
            chunks.setdefault(doc_id, []).append((s, e, np.frombuffer(blob, dtype=np.float32)))
        state = {}
        for doc in store.list_documents():
            assert doc.doc_id in chunks, f"{doc.doc_id} committed without its chunks"
            state[doc.doc_id] = (doc.content_hash, doc.n_tokens, chunks.pop(doc.doc_id))
        assert not chunks, f"chunks without a document: {sorted(chunks)}"
        hits = store.search(np.ones((1, store.info.dim), np.float32) / np.sqrt(store.info.dim), k=10**6)[0]
        assert len(hits) == store.info.n_chunks  # the index (caught up if it lagged) holds every chunk
    return state


def _ingest_seconds(data_dir: Path, name: str) -> float:
    conn = sqlite3.connect(data_dir / name / "store.sqlite")
    (seconds,) = conn.execute("SELECT finished_at - started_at FROM runs ORDER BY run_id DESC").fetchone()
    conn.close()
    return seconds


def _wait_until_running(db: Path, pid: int, proc, limit: float) -> bool:
    """Poll (as a reader) until the run of ``pid`` is registered; False if the process ended first."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                sql = "SELECT 1 FROM runs WHERE pid = ? AND status = 'running'"
                row = conn.execute(sql, (pid,)).fetchone()
                conn.close()
                if row:
                    return True
            except sqlite3.Error:
                pass  # created a moment ago, tables not there yet
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_sigkill_at_random_moments_then_rerun_equals_an_uninterrupted_run(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_corpus(corpus)
    data = tmp_path / "data"
    t0 = time.monotonic()
    subprocess.run(_command(data, corpus, "timing"), env=_env(), cwd=REPO, check=True, capture_output=True)
    duration = time.monotonic() - t0

    ingest = _ingest_seconds(data, "timing")
    startup = max(duration - ingest, 0.5)

    rng = random.Random(20240607)
    db = data / "crash" / "store.sqlite"
    kills, attempts, partial = 0, 0, []
    while kills < MIN_KILLS and attempts < 4 * MIN_KILLS:
        attempts += 1
        proc = subprocess.Popen(_command(data, corpus, "crash"), env=_env(), cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if rng.random() < 0.2:
            delay = rng.uniform(0.0, 1.2) * startup  # start-up, collection creation, catching up
        else:
            _wait_until_running(db, proc.pid, proc, limit=10 * duration)
            delay = rng.uniform(0.0, 1.0) * ingest
        try:
            proc.wait(timeout=delay)
            assert proc.returncode == 0
            _edit_some(corpus, rng)  # it finished first: give the next runs something to do
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            if db.exists():
                partial.append(len(_state(data, "crash")))  # consistent after every kill
    assert kills >= MIN_KILLS
    assert any(0 < n < N_DOCS for n in partial), partial  # some kills struck mid-ingest

    done = subprocess.run(_command(data, corpus, "crash"), env=_env(), cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    subprocess.run(_command(data, corpus, "reference"), env=_env(), cwd=REPO, check=True, capture_output=True)

    crashed, reference = _state(data, "crash"), _state(data, "reference")
    assert crashed.keys() == reference.keys() and len(crashed) == N_DOCS
    for doc_id, (content_hash, n_tokens, chunks) in reference.items():
        got_hash, got_tokens, got_chunks = crashed[doc_id]
        assert (got_hash, got_tokens) == (content_hash, n_tokens)
        assert [(s, e) for s, e, _ in got_chunks] == [(s, e) for s, e, _ in chunks]
        for (_, _, v1), (_, _, v2) in zip(got_chunks, chunks, strict=True):
            assert float(v1 @ v2) > 0.999  # same text, same model (batching may shift the last bits)
    report = verify(data, "crash", repair=False)
    assert report.clean, report.problems
    assert not list((data / "crash").glob(".index.tmp.*")) and not list(data.glob(".creating-*"))
