import json

import pytest

from ingest.store import CollectionStore
from retrieval.evaluate import (
    evaluate,
    format_by_type,
    format_table,
    load_questions,
    ndcg_at,
    question_scores,
    recall_at,
    reciprocal_rank,
)
from tests.retrieval.helpers import count_words


def test_rank_metrics_on_hand_computed_cases():
    ranked = ["A", "B", "C", "D"]
    assert recall_at(ranked, ["C"], 1) == 0 and recall_at(ranked, ["C"], 3) == 1
    assert recall_at(ranked, ["A", "D"], 3) == 0.5  # multi-document question: fraction found
    assert reciprocal_rank(ranked, ["C", "D"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, ["Z"]) == 0
    assert ndcg_at(ranked, ["A"], 10) == 1.0
    assert ndcg_at(ranked, ["B"], 10) == pytest.approx(1 / 1.5849625)  # 1/log2(3)
    assert ndcg_at(["B", "A"], ["A", "B"], 10) == pytest.approx(1.0)
    assert set(question_scores(ranked, ["A"])) == {"recall@1", "recall@3", "recall@5", "mrr", "ndcg@10"}


QUESTIONS = [
    {"id": "q1", "question": "When was warfarin started for Ben Okafor?", "type": "fact",
     "gold_doc_ids": ["P0002"], "gold_answer": "2019-02-01", "gold_facts": ["2019-02-01"]},
    {"id": "q2", "question": "What was Ana Diaz's HbA1c in 2021?", "type": "fact", "gold_doc_ids": ["P0001"],
     "gold_answer": "7.9%", "gold_facts": ["7.9%"]},
    {"id": "q3", "question": "Which patients take lisinopril or warfarin?", "type": "multi_patient",
     "gold_doc_ids": ["P0002", "P0004"], "gold_answer": "", "gold_facts": []},
    {"id": "q4", "question": "What is the usual INR target range for warfarin?", "type": "reference",
     "gold_doc_ids": ["ref-warfarin"], "gold_answer": "2.0 to 3.0", "gold_facts": ["2.0 to 3.0"]},
]


def test_evaluate_compares_modes_side_by_side(clinic, embedder, tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n\n")
    questions = load_questions(path)
    store = CollectionStore.open(*clinic)
    report = evaluate(store, embedder, questions, count_tokens=count_words, budgets=(1200, 6000))
    store.close()
    assert list(report["modes"]) == ["dense", "bm25", "hybrid", "hybrid-rrf"]
    hybrid = report["modes"]["hybrid"]["overall"]
    assert hybrid["recall@5"] == 1.0 and hybrid["mrr"] > 0.8
    assert hybrid["packed@5K"] == 1.0  # the whole clinic fits in 6,000 words
    assert 0 < hybrid["packed@1K"] < 1.0  # 1,200 less 1,024 for the answer: only the short ones fit
    assert hybrid["fit@1K"] >= hybrid["packed@1K"]  # the patient histories cannot fit whole at all
    assert hybrid["facts@5K"] == 1.0  # every gold fact string is in the prompt
    assert report["modes"]["bm25"]["by_type"]["multi_patient"]["n"] == 1
    table = format_table(report)
    assert table.splitlines()[0].split() == ["metric", "dense", "bm25", "hybrid", "hybrid-rrf"]
    assert "best reachable" in table and report["ceiling"]["recall@1"] < 1.0  # a multi-patient question
    assert "recall@3" in table and "packed@5K" in table
    assert "multi_patient" in format_by_type(report)


def test_load_questions_reports_bad_lines(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "q1", "question": "x"}\n')
    with pytest.raises(ValueError, match="q.jsonl:1"):
        load_questions(path)
