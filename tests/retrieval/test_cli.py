import json

from retrieval.cli import main
from tests.retrieval.test_evaluate import QUESTIONS

APPROX = ["--tokenizer", "approx:chars/4"]  # no tokenizer folder needed
BM25 = ["--mode", "bm25"]  # no embedding model to load where the mode does not matter


def test_search_prints_ranking_and_packing(clinic, capsys):
    data_dir, name = clinic
    code = main(["search", "When was warfarin started for Ben Okafor?", "-c", name,
                 "--data-dir", str(data_dir), "-k", "3", "--budget", "4000", "--evidence", "1", *APPROX])
    out = capsys.readouterr().out
    assert code == 0
    ranking = [line.split() for line in out.splitlines() if line[:3].strip().isdigit()]
    assert ranking[0][2] == "P0002" and ranking[0][4] == "whole"
    assert "packed 3 whole + 0 reduced, dropped 0" in out
    assert "[P0002]" in out and "Warfarin started on 2019-02-01" in out  # the evidence sentence


def test_search_json_with_filters_and_named_document(clinic, capsys):
    data_dir, name = clinic
    code = main(["search", "inhaler", "-c", name, "--data-dir", str(data_dir), "--kind", "guideline",
                 "--mode", "bm25", "--doc", "P0003", "--json", *APPROX])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["doc_id"] for r in report["ranked"]] == ["P0003", "guideline-asthma"]
    assert report["ranked"][0]["selected"] is True
    assert report["prompt_tokens"] <= report["budget"] - report["reserve"]


def test_search_bad_input_exits_with_a_message(clinic, capsys):
    data_dir, name = clinic
    assert main(["search", "x", "-c", "nope", "--data-dir", str(data_dir), *BM25, *APPROX]) == 1
    err = capsys.readouterr().err
    assert "no collection 'nope'" in err and f"collections in {data_dir}: {name}" in err
    assert main(["search", "  ", "-c", name, "--data-dir", str(data_dir), *BM25, *APPROX]) == 1
    assert "question is empty" in capsys.readouterr().err
    assert main(["search", "why " * 3000, "-c", name, "--data-dir", str(data_dir), "--budget", "2000",
                 *BM25, *APPROX]) == 1
    assert "budget leaves only" in capsys.readouterr().err
    assert main(["search", "x", "-c", name, "--data-dir", str(data_dir), "--date-from", "soon",
                 *BM25, *APPROX]) == 1
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_eval_prints_side_by_side_table_and_writes_json(clinic, tmp_path, capsys):
    data_dir, name = clinic
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in QUESTIONS))
    out_json = tmp_path / "eval.json"
    code = main(["eval", "-c", name, "--data-dir", str(data_dir), "--questions", str(questions),
                 "--json", str(out_json), *APPROX])
    out = capsys.readouterr().out
    assert code == 0
    assert "dense" in out and "bm25" in out and "hybrid" in out and "packed@128K" in out
    report = json.loads(out_json.read_text())
    assert report["n_questions"] == 4 and report["modes"]["hybrid"]["overall"]["packed@128K"] == 1.0


def test_eval_runs_the_columns_asked_for_and_refuses_unknown_ones(clinic, tmp_path, capsys):
    data_dir, name = clinic
    questions = tmp_path / "questions.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in QUESTIONS))
    common = ["eval", "-c", name, "--data-dir", str(data_dir), "--questions", str(questions), *APPROX]
    assert main([*common, "--runs", "dense,dense-raw"]) == 0
    header = capsys.readouterr().out.splitlines()[1].split()
    assert header == ["metric", "dense", "dense-raw"]
    assert main([*common, "--runs", "dense,sparkle"]) == 2
    assert "unknown --runs sparkle" in capsys.readouterr().err
