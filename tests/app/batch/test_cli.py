"""The ``batch`` command: clear failures before any model loads, the report, and resume after a kill."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from app.batch.cli import main, parse_args, run
from app.batch.report import write_report
from app.settings import Settings
from tests.app.batch.conftest import MAX_TOKENS, PATIENTS, answers, read_lines
from tests.conftest import REPO


def batch_argv(data_dir, questions_file, out, *extra):
    return ["run", "--collection", "clinic", "--questions", str(questions_file), "--out", str(out),
            "--data-dir", str(data_dir), "--max-tokens", str(MAX_TOKENS), "--no-progress", *extra]


def test_malformed_questions_fail_with_line_numbers_before_anything_else(tmp_path, capsys):
    bad = tmp_path / "q.yaml"
    bad.write_text("- id: a\n  text: First\n- id: a\n  text: Again\n- id: b\n")
    code = main(["run", "--collection", "nowhere", "--questions", str(bad), "--out", str(tmp_path / "o"),
                 "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "line 3: duplicate id 'a' (first on line 1)" in err
    assert "line 5: missing question text" in err and not (tmp_path / "o").exists()
    csv_file = tmp_path / "q.csv"
    csv_file.write_text("id,text,format\nok,Fine?,\nbad,Bad format?,table\n")
    assert main(["check", str(csv_file)]) == 2
    assert "line 3: unknown format 'table'" in capsys.readouterr().err


def test_unknown_collection_then_unreachable_server_are_clear_errors(data_dir, questions_file, tmp_path,
                                                                     capsys):
    assert main(batch_argv(tmp_path, questions_file, tmp_path / "o")) == 3
    assert "unknown collection 'clinic'" in capsys.readouterr().err
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(batch_argv(data_dir, questions_file, tmp_path / "o", "--server", f"http://127.0.0.1:{port}/v1"))
    err = capsys.readouterr().err
    assert code == 4 and f"cannot reach the model server at http://127.0.0.1:{port}/v1" in err
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_report_renders_csv_and_a_self_contained_html_page(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    meta = {"collection": "clinic", "mode": "per-document", "run": "r1",
            "model": {"name": "tiny", "kind": "engine"},
            "questions": [{"id": "meds", "text": "Meds?"}, {"id": "dx", "text": "Dx?"}],
            "documents": [{"doc_id": "P0001", "title": "Ana Diaz"}, {"doc_id": "P0002", "title": "Ben"}]}
    (out / "run.json").write_text(json.dumps(meta))
    text = "=1+1 <script>x</script> metformin [P0001] and [P0009]"
    a, b = text.index("[P0001]"), text.index("[P0009]")
    ok = {"doc_id": "P0001", "question_id": "meds", "run": "r1", "question": "Meds?", "status": "ok",
          "answer": text, "format": "text",
          "citations": [{"doc_id": "P0001", "valid": True, "title": "Ana Diaz", "marks": [[a, a + 7]],
                         "evidence": [{"text": "Started metformin 500 mg BID.", "start": 10, "end": 39}]},
                        {"doc_id": "P0009", "valid": False, "marks": [[b, b + 7]], "evidence": []}],
          "invalid_citations": ["P0009"], "tokens_in": 500, "tokens_out": 9, "timings": {"total_ms": 1500}}
    failed = {"doc_id": "P0002", "question_id": "meds", "run": "r1", "question": "Meds?", "status": "failed",
              "error": {"kind": "too_long", "message": "does not fit"}, "answer": "", "tokens_in": 0}
    stale = {**ok, "doc_id": "P0002", "question_id": "dx", "question": "Old wording?"}
    lines = [json.dumps(r) for r in (ok, failed, stale)]
    (out / "results.jsonl").write_text("\n".join(lines) + "\n" + '{"torn')
    csv_path, html_path = write_report(out)
    rows = csv_path.read_text().splitlines()
    assert rows[1].startswith("P0001,Ana Diaz,meds,Meds?,ok,'=1+1 <script>")  # no formula, text kept
    assert [r.split(",")[4] for r in rows[1:]] == ["ok", "pending", "failed", "stale"]
    page = html_path.read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert '<span class="cite">[P0001]</span>' in page and '<span class="cite bad">[P0009]</span>' in page
    assert "Started metformin 500 mg BID." in page and "too_long: does not fit" in page
    assert page.count("<section") == 2 and "http" not in page  # self-contained: nothing to fetch
    assert "4 items: 1 answered, 1 failed, 2 pending or stale; 500 tokens in" in page
    assert main(["report", "--out", str(tmp_path / "missing")]) == 3


@pytest.mark.slow
def test_resume_after_a_kill_gives_the_same_results_as_an_uninterrupted_run(
        data_dir, checkpoint, engine_backend, embedder, questions_file, tmp_path):
    killed = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    argv = batch_argv(data_dir, questions_file, killed, "--model", str(checkpoint), *sum(
        (["--doc", p] for p in PATIENTS), []))
    proc = subprocess.Popen([sys.executable, "-m", "app.batch", *argv], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = killed / "results.jsonl"
    deadline = time.monotonic() + 240
    while not (results.exists() and results.read_bytes().count(b"\n") >= 1):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the batch run wrote nothing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = read_lines(results)
    assert 1 <= len(done_before) < 6  # killed mid-run
    with open(results, "ab") as f:  # as if the kill had landed mid-write
        f.write(b'{"v":1,"doc_id":"P0003","question_id":"me')

    settings = Settings(data_dir=data_dir)
    assert run(parse_args(argv), settings, ["batch", *argv], backend=engine_backend, embedder=embedder) == 0
    whole = tmp_path / "whole"
    argv_whole = [a if a != str(killed) else str(whole) for a in argv]
    assert run(parse_args(argv_whole), settings, [], backend=engine_backend, embedder=embedder) == 0

    resumed, uninterrupted = read_lines(results), read_lines(whole / "results.jsonl")
    keys = [(r["doc_id"], r["question_id"]) for r in resumed]
    assert len(keys) == len(set(keys)) == 6  # every pair once: no duplicates, nothing lost
    assert resumed[: len(done_before)] == done_before  # finished records were kept as written
    assert answers(resumed) == answers(uninterrupted)


def test_ctrl_c_stops_cleanly_and_prints_how_to_resume(data_dir, engine_backend, questions_file, tmp_path,
                                                       capsys):
    from tests.app.batch.conftest import Delegate

    argv = batch_argv(data_dir, questions_file, tmp_path / "o", "--doc", "P0001")
    def ctrl_c(messages):  # from the generating thread, as a user's Ctrl-C lands mid-answer
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)  # the main thread runs the handler meanwhile

    interrupt = Delegate(engine_backend, ctrl_c)
    before = signal.getsignal(signal.SIGINT)
    code = run(parse_args(argv), Settings(data_dir=data_dir), ["batch", *argv], backend=interrupt,
               embedder=object())
    err = capsys.readouterr().err
    assert code == 130 and "stopping: answers in progress are abandoned" in err
    assert "Resume with:\n  batch run --collection clinic" in err
    assert (tmp_path / "o" / "results.jsonl").read_bytes() == b""  # the abandoned item left nothing
    assert signal.getsignal(signal.SIGINT) is before  # the handlers are restored
