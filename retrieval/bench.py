"""Query latency of the full retrieval path at 10K, 100K and 1M chunks, exact vs approximate search.

The path timed per query is the production one: ``Retriever.search`` in dense mode (embed the question
with the real MiniLM embedder, FAISS search, chunk -> document aggregation, fetch the top documents)
followed by ``pack`` with the real tokenizer. Only the corpus is synthetic: clustered unit vectors
(topics -> documents -> chunks, see ``synthetic``), documents of ``CHUNKS_PER_DOC`` chunks whose text is
generated on demand. A synthetic corpus has no text to match a question against, so each query embeds
a real question (its cost counts) and then searches with a synthetic query vector drawn like the data
(a fresh chunk of a random document), which makes approximate-index recall meaningful.

Rows: every size with the exact flat index in an in-memory store (the store's own FAISS search code),
100K chunks again in a real SQLite ``CollectionStore`` (what SQLite adds), and 1M chunks with an IVF
index at several ``nprobe`` values, with recall@10 of chunk ids against exact search in the same run.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import faiss
import numpy as np

from ingest.store import vectors as store_vectors
from retrieval.pack import pack
from retrieval.retriever import Retriever
from retrieval.synthetic import ArrayStore, SyntheticCorpus, write_real_store

log = logging.getLogger(__name__)

SIZES = (10_000, 100_000, 1_000_000)
QUESTIONS = (
    "When was warfarin started and what was the target INR?",
    "What was the most recent HbA1c value?",
    "List the current medications and doses.",
    "Has the patient had any fractures?",
    "What did the last echocardiogram show?",
    "Which antibiotics caused an allergic reaction?",
    "Summarize the kidney function trend over the last five years.",
    "When was the diagnosis of hypertension made?",
)
IVF_NLIST = 1024  # ~sqrt(1M): lists of ~1K vectors
IVF_TRAIN = 65_536  # training sample: 64 points per list, enough for k-means to settle
NPROBES = (8, 16, 32, 64)


@dataclass
class Row:
    chunks: int
    index: str
    store: str
    p50: float  # full path, documents' stored token counts
    p95: float
    recount_p50: float  # full path, every packed document re-tokenized
    recount_p95: float
    embed_p50: float
    search_p50: float  # search, aggregate and fetch (embedding excluded)
    recall10: float | None = None


class PlannedEmbedder:
    """The real embedder's cost, a planned query vector's result (see the module docstring)."""

    def __init__(self, embedder, vectors: np.ndarray):
        self.embedder, self.vectors = embedder, vectors
        self.name, self.dim = embedder.name, embedder.dim
        self.i = 0
        self.last_ms = 0.0

    def encode(self, texts: list[str]) -> np.ndarray:
        began = time.perf_counter()
        self.embedder.encode(texts)
        self.last_ms = 1000 * (time.perf_counter() - began)
        vector = self.vectors[self.i % len(self.vectors)][None, :]
        self.i += 1
        return vector


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def time_queries(store, embedder, queries: np.ndarray, count_tokens: Callable[[str], int], *,
                 k: int, budget: int) -> dict[str, list[float]]:
    """Milliseconds per query of each stage of search + pack, over ``queries``.

    One untimed pass first warms what a running service has warm (model, page cache, the synthetic
    store's per-document token counts, which ingest would have stored). Then each query is searched
    once and packed twice from the same ranking: with stored counts, and re-tokenizing every document.
    """
    planned = PlannedEmbedder(embedder, queries)
    retriever = Retriever(store, planned, "dense")
    for i in range(len(queries)):
        retriever.search(QUESTIONS[i % len(QUESTIONS)], k=k)
    times: dict[str, list[float]] = {"embed": [], "search": [], "stored": [], "recount": []}
    for i in range(len(queries)):
        question = QUESTIONS[i % len(QUESTIONS)]
        t0 = time.perf_counter()
        ranked = retriever.search(question, k=k)
        t1 = time.perf_counter()
        pack(ranked, question=question, budget=budget, count_tokens=count_tokens, stored_counts=True)
        t2 = time.perf_counter()
        pack(ranked, question=question, budget=budget, count_tokens=count_tokens)
        t3 = time.perf_counter()
        search_ms = 1000 * (t1 - t0)
        times["embed"].append(planned.last_ms)
        times["search"].append(search_ms - planned.last_ms)
        times["stored"].append(search_ms + 1000 * (t2 - t1))
        times["recount"].append(search_ms + 1000 * (t3 - t2))
    return times


@contextmanager
def _all_cores():
    """Index building is throughput work: use every core, then go back to the query-path setting."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def ivf_index(corpus: SyntheticCorpus, nlist: int = IVF_NLIST) -> faiss.Index:
    """IVF-Flat over the corpus, trained on a sample (building on 2 cores takes a minute at 1M)."""
    quantizer = faiss.IndexFlatIP(corpus.dim)
    index = faiss.IndexIVFFlat(quantizer, corpus.dim, nlist, faiss.METRIC_INNER_PRODUCT)
    with _all_cores():
        index.train(corpus.sample(min(IVF_TRAIN, 64 * nlist)))
        for ids, block in corpus.blocks():
            index.add_with_ids(block, ids)
    return index


def recall_at_10(approx: faiss.Index, exact: faiss.Index, queries: np.ndarray, nprobe: int) -> float:
    _, truth = exact.search(queries, 10)
    _, got = approx.search(queries, 10, params=faiss.SearchParametersIVF(nprobe=nprobe))
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=True)]))


def _row(chunks, index, store_kind, times, recall=None) -> Row:
    return Row(chunks, index, store_kind, _percentile(times["stored"], 50), _percentile(times["stored"], 95),
               _percentile(times["recount"], 50), _percentile(times["recount"], 95),
               statistics.median(times["embed"]), statistics.median(times["search"]), recall)


def run(sizes: Sequence[int], embedder, count_tokens, *, queries: int = 200, k: int = 10,
        budget: int = 32_768, real_store_dir=None, seed: int = 0, approx_from: int = 1_000_000,
        nlist: int = IVF_NLIST, sqlite_at: int = 100_000) -> list[Row]:
    """Measure every configuration: exact search at every size, a real SQLite store at ``sqlite_at``
    chunks (when ``real_store_dir`` is given), IVF from ``approx_from`` chunks up."""
    rows = []
    for n in sizes:
        began = time.perf_counter()
        corpus = SyntheticCorpus(n, dim=embedder.dim, seed=seed)
        qvecs = corpus.queries(queries)
        exact = store_vectors.build("flat", corpus.dim, np.zeros((0, corpus.dim), np.float32),
                                    np.zeros(0, np.int64))
        for ids, block in corpus.blocks():
            exact.add_with_ids(block, ids)
        log.info("%d chunks: flat index in %.1fs", n, time.perf_counter() - began)
        store = ArrayStore(corpus, exact, embedder.name, count_tokens)
        rows.append(_row(n, "flat (exact)", "memory",
                         time_queries(store, embedder, qvecs, count_tokens, k=k, budget=budget)))
        if real_store_dir is not None and n == sqlite_at:
            real = write_real_store(real_store_dir, corpus, embedder, count_tokens)
            rows.append(_row(n, "flat (exact)", "sqlite",
                             time_queries(real, embedder, qvecs, count_tokens, k=k, budget=budget)))
            real.close()
        if n >= approx_from:
            began = time.perf_counter()
            approx = ivf_index(corpus, nlist)
            log.info("%d chunks: IVF index in %.1fs", n, time.perf_counter() - began)
            for nprobe in NPROBES:
                recall = recall_at_10(approx, exact, qvecs, nprobe)
                store = ArrayStore(corpus, approx, embedder.name, count_tokens, nprobe=nprobe)
                rows.append(_row(n, f"ivf{nlist} nprobe={nprobe}", "memory",
                                 time_queries(store, embedder, qvecs, count_tokens, k=k, budget=budget),
                                 recall))
            del approx
        del exact, store
    return rows


def format_rows(rows: Sequence[Row]) -> str:
    head = (f"{'chunks':>10}  {'index':<20}{'store':<7}{'p50':>7}{'p95':>7}{'recount':>9}{'recount':>9}"
            f"{'embed':>7}{'search':>8}{'R@10':>7}")
    sub_head = f"{'':>10}  {'':<20}{'':<7}{'':>7}{'':>7}{'p50':>9}{'p95':>9}{'p50':>7}{'p50':>8}"
    lines = [head, sub_head]
    for r in rows:
        recall = f"{r.recall10:>7.3f}" if r.recall10 is not None else f"{'exact':>7}"
        lines.append(f"{r.chunks:>10,}  {r.index:<20}{r.store:<7}{r.p50:>7.1f}{r.p95:>7.1f}"
                     f"{r.recount_p50:>9.1f}{r.recount_p95:>9.1f}{r.embed_p50:>7.1f}{r.search_p50:>8.1f}{recall}")
    return "\n".join(lines)
