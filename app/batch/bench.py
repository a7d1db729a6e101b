"""Batch benchmark: items/s and tokens/s on the sample corpus, in-process engine vs the project's server.

    python -m app.batch.bench [--docs 3] [--questions 3] [--max-tokens 16] [--model data/tiny-jamba]

The smallest ``--docs`` patient records of ``data/samples`` are ingested into a temporary collection
and the first ``--questions`` questions of docs/examples/questions.yaml are asked of each (per-document
mode), in one process, four ways:

1. in-process engine, whole prompt prefilled for every question (the baseline);
2. in-process engine with per-document prefix reuse (each document prefilled once);
3. the project's OpenAI-compatible server (``python -m model.serve``, a subprocess) at concurrency 1;
4. the same server at concurrency 4.

Every configuration starts from an empty results folder, after one warm-up request. Tokens in are
prompt tokens (the document, the system prompt and the question); tokens out are answer tokens.
Evidence passages are found lexically (no embedder), so the numbers are about the model path.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from app.batch.questions import load_questions
from app.batch.runner import BatchOptions, RunSummary, run_batch
from model.sampling import SamplingParams

REPO = Path(__file__).resolve().parents[2]


def _corpus(samples: Path, n_docs: int, out: Path) -> list[str]:
    """Copy the ``n_docs`` smallest patient records; return their ids (file stems)."""
    files = sorted((samples / "patients").glob("*.md"), key=lambda p: (p.stat().st_size, p.name))[:n_docs]
    out.mkdir(parents=True)
    for f in files:
        shutil.copy(f, out / f.name)
    return [f.stem for f in files]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(model: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "model.serve", "--model", model, "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url + "/v1"
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the model server did not start")
        time.sleep(0.2)


def _warm_up(backend) -> None:
    messages = [{"role": "user", "content": "Warm-up: say hello."}]
    for _ in backend.stream_chat(messages, SamplingParams(max_tokens=4)):
        pass


def _measure(name: str, data_dir: Path, backend, questions, options: BatchOptions, out: Path) -> dict:
    _warm_up(backend)
    t0 = time.perf_counter()
    s: RunSummary = run_batch(data_dir, backend, questions, options, out, progress=False)
    wall = time.perf_counter() - t0
    if s.failed or not s.complete:
        raise RuntimeError(f"{name}: {s.failed} failed items ({s.failures})")
    return {"config": name, "items": s.ok, "wall_s": wall, "items_per_s": s.ok / wall,
            "in_tok_s": s.tokens_in / wall, "out_tok_s": s.tokens_out / wall,
            "tokens_in": s.tokens_in, "tokens_out": s.tokens_out}


def run_benchmark(args: argparse.Namespace) -> list[dict]:
    from ingest.embed import Embedder
    from ingest.pipeline import add
    from model.backend import EngineBackend
    from model.client import OpenAIBackend

    questions = load_questions(args.questions_file)[: args.questions]
    work = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    server = None
    try:
        doc_ids = _corpus(Path(args.samples), args.docs, work / "corpus")
        add(work / "data", "bench", [work / "corpus"], embedder=Embedder(), tokenizer=args.model)
        engine = EngineBackend.load(args.model)
        common = {"collection": "bench", "max_tokens": args.max_tokens, "doc_ids": tuple(doc_ids)}
        rows = [
            _measure("in-process, whole prompt per question", work / "data", engine, questions,
                     BatchOptions(**common, reuse_prefix=False), work / "r1"),
            _measure("in-process, prefix reuse per document", work / "data", engine, questions,
                     BatchOptions(**common), work / "r2"),
        ]
        server, url = _start_server(args.model)
        client = OpenAIBackend(url, tokenizer=args.model)
        for n in (1, 4):
            rows.append(_measure(f"project server, concurrency {n}", work / "data", client, questions,
                                 BatchOptions(**common, concurrency=n), work / f"s{n}"))
        return rows
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m app.batch.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=3, help="patient records (the smallest of the samples)")
    ap.add_argument("--questions", type=int, default=3, help="first N questions of the questions file")
    ap.add_argument("--questions-file", type=Path, default=REPO / "docs/examples/questions.yaml")
    ap.add_argument("--samples", default=str(REPO / "data/samples"))
    ap.add_argument("--model", default=str(REPO / "data/tiny-jamba"))
    ap.add_argument("--max-tokens", type=int, default=16)
    args = ap.parse_args(argv)
    rows = run_benchmark(args)
    base = rows[0]["items_per_s"]
    print(f"{args.docs} documents x {args.questions} questions, {args.max_tokens} answer tokens max, "
          f"model {args.model}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("| configuration | items | wall s | items/s | prompt tokens/s | answer tokens/s | vs baseline |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['config']} | {r['items']} | {r['wall_s']:.1f} | {r['items_per_s']:.2f} | "
              f"{r['in_tok_s']:,.0f} | {r['out_tok_s']:.1f} | {r['items_per_s'] / base:.2f}x |")


if __name__ == "__main__":
    main()
