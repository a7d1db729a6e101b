"""Retrieval quality on a question set: document recall@k, MRR, nDCG@10 and packed recall.

Every question names its gold documents (``gold_doc_ids``). For a ranking of document ids:

- recall@k: the fraction of gold documents in the top k (a multi-patient question with two gold
  records scores 0.5 when one is found);
- MRR: 1 / rank of the first gold document (0 when none is retrieved);
- nDCG@10: binary relevance, ideal ranking puts every gold document first;
- packed recall at a budget (``packed@B``): the fraction of gold documents that went into the packed
  prompt *whole* (a reduced gold document does not count), with the default layout and answer reserve;
- ``fit@B``: the same, counting only gold documents small enough to fit the budget whole at all
  (a 400K-token history cannot be whole in a 128K prompt, however good the ranking);
- ``facts@B``: the fraction of the question's ``gold_facts`` (literal strings from the gold documents)
  present in the packed prompt: whether reduction of an oversized record kept the answer.

Dense, BM25 and hybrid run over the same questions in one run, so the comparison is like for like.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.lexical import LexicalCache
from retrieval.pack import CachedCounter, pack
from retrieval.retriever import Retriever, RetrieverConfig

log = logging.getLogger(__name__)

BUDGETS = (32_768, 65_536, 131_072)
RANK_KS = (1, 3, 5)
SEARCH_K = 30  # documents retrieved per question: enough to fill a 128K budget with the sample corpus
# Columns of the evaluation: label -> (retriever mode, fusion, dense length correction). "hybrid" is what
# the product runs; the others isolate one choice each, for comparison ("-raw": no length correction).
RUNS = {"dense": ("dense", "zscore", True), "bm25": ("bm25", "zscore", True),
        "hybrid": ("hybrid", "zscore", True), "hybrid-rrf": ("hybrid", "rrf", True),
        "dense-raw": ("dense", "zscore", False), "hybrid-raw": ("hybrid", "zscore", False)}
DEFAULT_RUNS = ("dense", "bm25", "hybrid", "hybrid-rrf")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    type: str
    gold_doc_ids: tuple[str, ...]
    gold_facts: tuple[str, ...] = ()


def load_questions(path: str | Path) -> list[Question]:
    """Questions from a JSON-lines file (one object per line; see docs/architecture.md)."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(Question(str(row["id"]), row["question"], row.get("type", "unknown"),
                                tuple(row["gold_doc_ids"]), tuple(row.get("gold_facts") or ())))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{path}:{n}: not a question record ({err})") from err
    return out


def recall_at(ranked: Sequence[str], gold: Sequence[str], k: int) -> float:
    return len(set(ranked[:k]) & set(gold)) / len(gold) if gold else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: Sequence[str]) -> float:
    return next((1.0 / i for i, d in enumerate(ranked, start=1) if d in set(gold)), 0.0)


def ndcg_at(ranked: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    gold_set = set(gold)
    dcg = sum(1.0 / math.log2(i + 1) for i, d in enumerate(ranked[:k], start=1) if d in gold_set)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold_set), k) + 1))
    return dcg / ideal if ideal else 0.0


def question_scores(ranked: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    scores = {f"recall@{k}": recall_at(ranked, gold, k) for k in RANK_KS}
    scores["mrr"] = reciprocal_rank(ranked, gold)
    scores["ndcg@10"] = ndcg_at(ranked, gold, 10)
    return scores


def _packed_recall(ranked, question: Question, budgets: Sequence[int], count_tokens) -> dict[str, float]:
    out = {}
    gold = set(question.gold_doc_ids)
    for budget in budgets:
        packed = pack(ranked, question=question.question, budget=budget, count_tokens=count_tokens)
        room = packed.budget - packed.reserve - packed.overhead_tokens
        whole = {d.doc_id for d in packed.documents if d.whole} & gold
        sizes = {d.doc_id: d.original_tokens for d in packed.documents}
        sizes.update({d.doc_id: d.n_tokens for d in packed.dropped})
        # A gold document missing from the ranking could have fit: its miss counts against retrieval.
        packable = {d for d in gold if sizes.get(d, 0) <= room}
        label = f"{budget // 1024}K"
        out[f"packed@{label}"] = len(whole) / len(gold)
        out[f"fit@{label}"] = len(whole & packable) / len(packable) if packable else 1.0
        if question.gold_facts:
            prompt = "\n".join(d.text for d in packed.documents)
            out[f"facts@{label}"] = sum(f in prompt for f in question.gold_facts) / len(question.gold_facts)
    return out


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over the rows that have it (``facts@`` only exists where facts are given)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return {k: statistics.fmean(r[k] for r in rows if k in r) for k in keys}


def evaluate_mode(retriever: Retriever, questions: Sequence[Question], budgets: Sequence[int],
                  count_tokens: Callable[[str], int], k: int = SEARCH_K) -> dict:
    """Metrics of one retriever over ``questions``: overall, per question type, and per question."""
    per_question = []
    latencies = []
    for q in questions:
        began = time.perf_counter()
        ranked = retriever.search(q.question, k=k)
        latencies.append(1000 * (time.perf_counter() - began))
        ids = [sd.doc_id for sd in ranked]
        scores = question_scores(ids, q.gold_doc_ids)
        scores.update(_packed_recall(ranked, q, budgets, count_tokens))
        per_question.append({"id": q.id, "type": q.type, "top": ids[:5], **scores})
    metric_rows = [{k: v for k, v in r.items() if k not in ("id", "type", "top")} for r in per_question]
    by_type: dict[str, list] = defaultdict(list)
    for q, row in zip(questions, metric_rows, strict=True):
        by_type[q.type].append(row)
    return {
        "overall": _mean(metric_rows),
        "by_type": {t: {"n": len(rows), **_mean(rows)} for t, rows in sorted(by_type.items())},
        "search_ms_p50": statistics.median(latencies) if latencies else 0.0,
        "questions": per_question,
    }


def evaluate(store, embedder, questions: Sequence[Question], *, count_tokens: Callable[[str], int],
             modes: Sequence[str] = DEFAULT_RUNS, budgets: Sequence[int] = BUDGETS,
             k: int = SEARCH_K) -> dict:
    """Every run (``RUNS`` labels) over the same questions; {"modes": {label: metrics}, ...} (JSON-ready)."""
    counted = CachedCounter(count_tokens)  # whole documents recur across modes and budgets
    lexical = LexicalCache()  # one BM25 build shared by the bm25 and hybrid retrievers
    results = {}
    for label in modes:
        mode, fusion, length_correction = RUNS[label]
        retriever = Retriever(store, embedder if mode != "bm25" else None, mode, lexical_cache=lexical,
                              config=RetrieverConfig(fusion=fusion, length_correction=length_correction))
        began = time.perf_counter()
        results[label] = evaluate_mode(retriever, questions, budgets, counted, k)
        log.info("evaluated %s on %d questions in %.1fs", label, len(questions), time.perf_counter() - began)
    info = store.info
    return {"collection": info.name, "n_documents": info.n_documents, "n_chunks": info.n_chunks,
            "embed_model": info.embed_model, "n_questions": len(questions), "budgets": list(budgets),
            "ceiling": ceiling(questions), "modes": results}


def ceiling(questions: Sequence[Question]) -> dict[str, float]:
    """The best recall@k any ranking can reach: a question with more gold documents than k caps it."""
    return {f"recall@{k}": statistics.fmean(min(k, len(q.gold_doc_ids)) / len(q.gold_doc_ids)
                                            for q in questions) for k in RANK_KS} if questions else {}


def format_table(report: dict) -> str:
    """The side-by-side table the CLI prints: one row per metric, one column per mode."""
    modes = list(report["modes"])
    metrics = list(next(iter(report["modes"].values()))["overall"])
    runs = [report["modes"][m] for m in modes]
    lines = [f"{'metric':<14}" + "".join(f"{m:>11}" for m in modes)]
    for metric in metrics:
        lines.append(f"{metric:<14}" + "".join(f"{r['overall'][metric]:>11.3f}" for r in runs))
    lines.append(f"{'search ms p50':<14}" + "".join(f"{r['search_ms_p50']:>11.1f}" for r in runs))
    if report.get("ceiling"):
        best = ", ".join(f"{k} {v:.3f}" for k, v in report["ceiling"].items())
        lines.append(f"best reachable (questions with more gold documents than k): {best}")
    return "\n".join(lines)


def format_by_type(report: dict, metric: str = "recall@3") -> str:
    """``metric`` per question type and mode: where each ranker wins or loses."""
    modes = list(report["modes"])
    types = list(next(iter(report["modes"].values()))["by_type"])
    lines = [f"{metric + ' by type':<22}{'n':>4}" + "".join(f"{m:>11}" for m in modes)]
    for t in types:
        n = report["modes"][modes[0]]["by_type"][t]["n"]
        cells = "".join(f"{report['modes'][m]['by_type'][t][metric]:>11.3f}" for m in modes)
        lines.append(f"{t:<22}{n:>4}" + cells)
    return "\n".join(lines)
