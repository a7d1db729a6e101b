"""The ``ask`` CLI: streamed text, sources with evidence, --json, and an exit code per failure."""

import json
import socket

import pytest

from app.ask import (
    EXIT_FAILED,
    EXIT_MODEL,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TOO_LONG,
    EXIT_USAGE,
    main,
    parse_args,
    run,
)
from app.settings import Settings
from app.types import RANDOM_WEIGHTS_LABEL

QUESTION = "What dose of metformin was Ana Diaz on in 2021?"


@pytest.fixture
def env(monkeypatch, data_dir, checkpoint):
    for name in ("DOCQA_SERVER_URL", "DOCQA_API_KEY", "DOCQA_BUDGET", "DOCQA_DEBUG", "DOCQA_EMBED_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCQA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DOCQA_MODEL", str(checkpoint))


def _run(argv, service, capsys):
    args = parse_args(argv)
    code = run(args, Settings.from_args(args), service=service)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # loads the embedder and the engine from scratch, as a user's first run does
def test_main_streams_the_answer_then_lists_sources(env, capsys):
    """The whole path a user takes: settings from the environment, model and embedder loaded."""
    code = main([QUESTION, "--collection", "clinic", "--max-tokens", "4", "--k", "3"])
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    assert out.index("retrieval evidence") < out.index(RANDOM_WEIGHTS_LABEL) < out.index("Sources:")
    assert "[P0001] Ana Diaz" in out and "metformin" in out.lower()
    assert "Retrieval" in out and "prompt tokens" in out


def test_json_output_for_machines(env, service, capsys):
    code, out, _ = _run([QUESTION, "-c", "clinic", "--json", "--max-tokens", "4"], service, capsys)
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["status"] == "ok" and data["random_weights"] is True
    assert "P0001" in [d["doc_id"] for d in data["packed"]["documents"]]
    assert any(c["doc_id"] == "P0001" and c["evidence"] for c in data["citations"])
    assert data["timings"]["retrieval_ms"] > 0


def test_selected_document_and_filters(env, service, capsys):
    code, out, _ = _run(["penicillin?", "-c", "clinic", "--doc", "P0003", "--kind", "patient_history",
                         "--json", "--max-tokens", "2"], service, capsys)
    assert code == EXIT_OK
    docs = json.loads(out)["packed"]["documents"]
    assert any(d["doc_id"] == "P0003" and d["selected"] for d in docs)


@pytest.mark.parametrize("argv, code, words", [
    (["  ", "-c", "clinic"], EXIT_USAGE, "empty"),
    ([QUESTION, "-c", "nope"], EXIT_NOT_FOUND, "unknown collection 'nope'"),
    ([QUESTION, "-c", "clinic", "--doc", "P0404"], EXIT_NOT_FOUND, "P0404"),
    ([QUESTION, "-c", "clinic", "--budget", "10"], EXIT_TOO_LONG, "budget"),
    ([QUESTION, "-c", "clinic", "--date-from", "yesterday"], EXIT_USAGE, "date"),
])
def test_bad_input_exit_codes(env, service, capsys, argv, code, words):
    got, out, err = _run(argv, service, capsys)
    assert got == code and words in err and not out


def test_unreachable_server_and_missing_model_exit_codes(env, monkeypatch, capsys, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main([QUESTION, "-c", "clinic", "--server", f"http://127.0.0.1:{port}/v1"]) == EXIT_MODEL
    assert "cannot reach the model server" in capsys.readouterr().err
    assert main([QUESTION, "-c", "clinic", "--model", str(tmp_path / "none")]) == EXIT_MODEL
    assert "cannot load model" in capsys.readouterr().err


def test_failure_mid_answer_keeps_partial_text_and_exits_1(env, service, engine_backend, capsys):
    from tests.app.test_service import ScriptedBackend

    service.backend = ScriptedBackend(engine_backend, "The dose was 1000 mg [P0001].", fail_after=2)
    code, out, err = _run([QUESTION, "-c", "clinic"], service, capsys)
    assert code == EXIT_FAILED and out.startswith("The dose") and "incomplete" in err and "Sources:" in out
