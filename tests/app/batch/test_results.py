"""The results file: fsynced whole lines, a torn tail repaired on open, one writer at a time."""

import json

import pytest

from app.batch.results import ResultsError, ResultsFile, latest, read_records


def test_records_append_as_lines_and_survive_reopening(tmp_path):
    path = tmp_path / "out" / "results.jsonl"
    with ResultsFile(path) as f:
        f.append({"doc_id": "P1", "question_id": "q", "status": "failed", "answer": "é [P1]"})
        f.append({"doc_id": "P1", "question_id": "q", "status": "ok"})
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    assert json.loads(lines[0])["answer"] == "é [P1]"
    with ResultsFile(path) as f:
        assert len(f.records) == 2 and f.repaired_bytes == 0
    assert latest(read_records(path))[("P1", "q")]["status"] == "ok"


def test_a_torn_last_line_is_truncated_on_open_and_ignored_by_readers(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultsFile(path) as f:
        f.append({"doc_id": "P1", "question_id": "a", "status": "ok"})
    whole = path.read_bytes()
    with open(path, "ab") as raw:
        raw.write(b'{"doc_id": "P1", "question_id": "b", "sta')  # killed mid-write
    assert [r["question_id"] for r in read_records(path)] == ["a"]
    with ResultsFile(path) as f:
        assert f.repaired_bytes == 41 and len(f.records) == 1
        f.append({"doc_id": "P1", "question_id": "b", "status": "ok"})
    assert path.read_bytes().startswith(whole)
    assert [r["question_id"] for r in read_records(path)] == ["a", "b"]


def test_damage_before_the_last_line_is_an_error_not_silently_dropped(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"question_id": "a"}\nnot json\n{"question_id": "b"}\n')
    with pytest.raises(ResultsError, match="line 2"):
        ResultsFile(path).open()


def test_a_second_writer_is_refused(tmp_path):
    path = tmp_path / "results.jsonl"
    with ResultsFile(path), pytest.raises(ResultsError, match="another batch run"):
        ResultsFile(path).open()
    ResultsFile(path).open().close()  # released when the first one closed
