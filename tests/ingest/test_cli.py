"""The ingest CLI: commands, summary lines, exit codes (0 ok, 1 error, 2 usage, 3 files failed, 4 verify)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.cli import EXIT_ERROR, EXIT_FILES_FAILED, EXIT_OK, EXIT_UNREPAIRED, EXIT_USAGE, main
from ingest.embed import cached_embedder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _warm_embedder():
    cached_embedder()  # the CLI loads the same cached model in-process


@pytest.fixture
def corpus(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        body = f"Note {i}: INR 2.{i} on warfarin.\n"
        (src / f"n{i}.md").write_text(f"---\ndoc_id: N{i}\ntitle: Note {i}\n---\n{body}")
    return src


def run(tmp_path, *argv):
    return main(["--data-dir", str(tmp_path / "data"), "--tokenizer", "approx:chars/4", *argv])


def test_add_prints_a_summary_and_rerun_is_unchanged(tmp_path, corpus, capsys):
    assert run(tmp_path, "add", str(corpus), "-c", "demo") == EXIT_OK
    out = capsys.readouterr().out
    assert "3 added, 0 updated, 0 unchanged, 0 removed, 0 failed" in out
    assert run(tmp_path, "add", str(corpus), "--collection", "demo") == EXIT_OK
    assert "0 added, 0 updated, 3 unchanged" in capsys.readouterr().out


def test_failed_files_give_exit_3_with_file_and_reason(tmp_path, corpus, capsys):
    (corpus / "bad.md").write_bytes(b"\x00\x00")
    assert run(tmp_path, "add", str(corpus), "-c", "demo") == EXIT_FILES_FAILED
    out = capsys.readouterr().out
    assert "3 added" in out and "1 failed" in out
    assert f"failed: {corpus / 'bad.md'}: " in out


def test_list_show_stats_verify_remove(tmp_path, corpus, capsys):
    run(tmp_path, "add", str(corpus), "-c", "demo")
    capsys.readouterr()
    assert run(tmp_path, "list") == EXIT_OK
    assert capsys.readouterr().out.startswith("demo\t3 documents")
    assert run(tmp_path, "list", "-c", "demo") == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["N0", "N1", "N2"]
    assert run(tmp_path, "show", "N1", "-c", "demo", "--text") == EXIT_OK
    out = capsys.readouterr().out
    assert "doc_id:       N1" in out and "INR 2.1 on warfarin" in out
    assert run(tmp_path, "stats", "-c", "demo") == EXIT_OK
    out = capsys.readouterr().out
    assert "3 documents" in out and "(approximate)" in out and "all-MiniLM-L6-v2" in out
    assert run(tmp_path, "verify", "-c", "demo") == EXIT_OK
    assert "store and index agree" in capsys.readouterr().out
    assert run(tmp_path, "remove", "-c", "demo", "N0") == EXIT_OK
    assert run(tmp_path, "remove", "-c", "demo", "N0") == EXIT_ERROR  # already gone: says so
    assert "no document 'N0'" in capsys.readouterr().err
    assert run(tmp_path, "remove", "-c", "demo", "--all") == EXIT_OK
    assert run(tmp_path, "list", "-c", "demo") == EXIT_ERROR


def test_verify_with_unrepairable_damage_exits_4(tmp_path, corpus, capsys):
    run(tmp_path, "add", str(corpus), "-c", "demo")
    import sqlite3

    conn = sqlite3.connect(tmp_path / "data" / "demo" / "store.sqlite")
    conn.execute("UPDATE documents SET text = 'edited behind our back' WHERE doc_id = 'N2'")
    conn.commit()
    conn.close()
    assert run(tmp_path, "verify", "-c", "demo") == EXIT_UNREPAIRED
    assert "PROBLEM: document 'N2'" in capsys.readouterr().out
    assert run(tmp_path, "add", str(corpus), "-c", "demo") == EXIT_OK  # the next add redoes N2
    assert "1 updated" in capsys.readouterr().out
    assert run(tmp_path, "verify", "-c", "demo") == EXIT_OK


def test_errors_and_usage_exit_codes(tmp_path, corpus, capsys):
    assert run(tmp_path, "show", "X", "-c", "nothing") == EXIT_ERROR
    assert "no collection 'nothing'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        run(tmp_path, "add", str(corpus))  # --collection missing
    assert exc.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as exc:
        run(tmp_path, "frobnicate")
    assert exc.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as exc:
        run(tmp_path, "remove", "-c", "demo")  # neither ids nor --all
    assert exc.value.code == EXIT_USAGE
    run(tmp_path, "add", str(corpus), "-c", "demo")
    assert run(tmp_path, "add", str(corpus), "-c", "demo", "--embed-model", "org/other") == EXIT_ERROR
    assert "all-MiniLM-L6-v2" in capsys.readouterr().err


def test_module_entry_point_help_shows_examples():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "ingest", "--help"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "examples:" in proc.stdout and "docqa-ingest add data/samples --collection demo" in proc.stdout
    assert "exit codes:" in proc.stdout
