"""The runner end to end on the tiny checkpoint: records, resume, failures, stop, reduction, retrieval."""

import threading

import pytest

from app.batch.questions import parse_questions
from app.batch.report import load_run
from app.batch.runner import BatchError, BatchOptions, run_batch
from model.backend import BackendUnavailable
from tests.app.batch.conftest import MAX_TOKENS, QUESTIONS_YAML, Delegate, read_lines

TWO = ("P0001", "P0002")


def run(data_dir, backend, questions, out, collection="clinic", stop=None, embedder=None, **options):
    opts = BatchOptions(collection, max_tokens=MAX_TOKENS, **options)
    return run_batch(data_dir, backend, questions, opts, out, stop=stop, progress=False, embedder=embedder)


def test_per_document_records_every_pair_and_resume_redoes_only_what_changed(
        data_dir, engine_backend, embedder, questions, tmp_path):
    out = tmp_path / "out"
    s = run(data_dir, engine_backend, questions, out, doc_ids=TWO, embedder=embedder)
    assert (s.total, s.skipped, s.ok, s.failed, s.stopped) == (4, 0, 4, 0, False)
    records = read_lines(out / "results.jsonl")
    assert [(r["doc_id"], r["question_id"]) for r in records] == [
        ("P0001", "meds"), ("P0001", "dx"), ("P0002", "meds"), ("P0002", "dx")]
    for r in records:
        assert r["status"] == "ok" and r["random_weights"] and r["tokens_out"] > 0
        assert [d["doc_id"] for d in r["documents"]] == [r["doc_id"]] and not r["reduced"]
        assert r["shared_prefix_tokens"] > 100  # the document was prefilled once for both questions
        assert r["tokens_in"] > r["documents"][0]["n_tokens"] and r["timings"]["total_ms"] > 0
        # Noise cites nothing, so the evidence passages found by meaning are attached instead.
        assert [(c["doc_id"], c["source"]) for c in r["citations"]] == [(r["doc_id"], "retrieval")]
        assert r["citations"][0]["evidence"]
    assert records[0]["format_error"]  # noise is not a list: said so, not an item error

    again = run(data_dir, engine_backend, questions, out, doc_ids=TWO)
    assert (again.skipped, again.ok) == (4, 0) and len(read_lines(out / "results.jsonl")) == 4

    edited = parse_questions(QUESTIONS_YAML.replace("Which diagnoses", "Which active diagnoses"), "yaml")
    redo = run(data_dir, engine_backend, edited, out, doc_ids=TWO)
    assert (redo.skipped, redo.ok) == (2, 2)
    assert [r["question_id"] for r in read_lines(out / "results.jsonl")[4:]] == ["dx", "dx"]
    meta, rows = load_run(out)
    assert [row["status"] for row in rows] == ["ok"] * 4 and meta["total_items"] == 4


def test_failures_are_recorded_a_stop_records_nothing_torn_and_a_rerun_finishes(
        data_dir, engine_backend, questions, tmp_path):
    out = tmp_path / "out"

    def fail_for_p2(messages):
        if 'id="P0002"' in messages[-1]["content"]:
            raise BackendUnavailable("cannot reach the model server at http://gpu-7:8000/v1")

    s = run(data_dir, Delegate(engine_backend, fail_for_p2), questions, out, doc_ids=TWO)
    assert (s.ok, s.failed, s.failures) == (2, 2, {"model_unavailable": 2})
    failed = [r for r in read_lines(out / "results.jsonl") if r["status"] == "failed"]
    assert [r["doc_id"] for r in failed] == ["P0002", "P0002"]
    assert failed[0]["error"] == {"kind": "model_unavailable",
                                  "message": "cannot reach the model server at http://gpu-7:8000/v1"}

    stop = threading.Event()
    stopped = run(data_dir, Delegate(engine_backend, lambda m: stop.set()), questions, out, doc_ids=TWO,
                  stop=stop)
    assert stopped.stopped and (stopped.ok, stopped.failed) == (0, 0)  # the cancelled item left no record
    assert len(read_lines(out / "results.jsonl")) == 4

    final = run(data_dir, engine_backend, questions, out, doc_ids=TWO)
    assert (final.skipped, final.ok, final.stopped) == (2, 2, False)
    _, rows = load_run(out)
    assert [row["status"] for row in rows] == ["ok"] * 4


def test_five_unreachable_items_in_a_row_stop_the_run(data_dir, engine_backend, tmp_path):
    def down(messages):
        raise BackendUnavailable("cannot reach the model server")

    many = parse_questions("".join(f"- {{id: q{i}, text: 'Question {i}?'}}\n" for i in range(4)), "yaml")
    s = run(data_dir, Delegate(engine_backend, down), many, tmp_path / "out", doc_ids=TWO)
    assert s.stopped and s.failed == 5 and "could not reach the model" in s.stop_reason


def test_a_document_over_the_budget_is_reduced_and_the_record_says_so(
        tmp_path, embedder, checkpoint, engine_backend):
    from ingest.pipeline import add

    visits = "".join(f"## 20{10 + i}-05-0{1 + i % 9} Clinic visit {i}\nBlood pressure {120 + i}/80. "
                     f"Lisinopril {5 + i} mg daily. Weight {70 + i} kg. Counselled on salt intake.\n\n"
                     for i in range(40))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "long.md").write_text(f"---\ndoc_id: P0100\ntitle: Long record\n---\n{visits}")
    add(tmp_path / "data", "long", [tmp_path / "src"], embedder=embedder, tokenizer=str(checkpoint))
    question = parse_questions("- {id: bp, text: 'What was the blood pressure at visit 7?'}\n", "yaml")
    s = run(tmp_path / "data", engine_backend, question, tmp_path / "out", collection="long", budget=700)
    (r,) = read_lines(tmp_path / "out" / "results.jsonl")
    assert s.ok == 1 and r["reduced"] and r["documents"][0]["reduced"]
    assert r["documents"][0]["n_tokens"] < r["documents"][0]["original_tokens"]
    assert "omitted" in r["documents"][0]["note"] or r["documents"][0]["note"]
    assert r["tokens_in"] <= 700


def test_retrieval_mode_answers_over_the_collection(data_dir, engine_backend, embedder, tmp_path):
    question = parse_questions("- {id: inr, text: 'What is the target INR on warfarin?'}\n", "yaml")
    opts = BatchOptions("clinic", mode="retrieval", max_tokens=MAX_TOKENS, k=3)
    s = run_batch(data_dir, engine_backend, question, opts, tmp_path / "out", embedder=embedder,
                  progress=False)
    (r,) = read_lines(tmp_path / "out" / "results.jsonl")
    assert s.ok == 1 and r["doc_id"] is None and r["mode"] == "retrieval"
    assert {"P0002", "ref-warfarin"} <= {d["doc_id"] for d in r["documents"]}
    with pytest.raises(BatchError, match="needs an embedder"):
        run_batch(data_dir, engine_backend, question, opts, tmp_path / "out2", progress=False)


def test_unknown_collection_and_documents_fail_before_any_item(data_dir, engine_backend, questions, tmp_path):
    with pytest.raises(BatchError, match="unknown collection 'nope'") as info:
        run(data_dir, engine_backend, questions, tmp_path / "o", collection="nope")
    assert info.value.kind == "not_found"
    with pytest.raises(BatchError, match="P9999") as info:
        run(data_dir, engine_backend, questions, tmp_path / "o", doc_ids=("P0001", "P9999"))
    assert info.value.kind == "not_found" and not (tmp_path / "o" / "results.jsonl").exists()
