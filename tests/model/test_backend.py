"""The in-process engine behind the ChatBackend interface."""

import threading

import pytest

from model.backend import BackendUnavailable, EngineBackend, PromptTooLong
from model.engine import Engine
from model.plan import plan
from model.sampling import SamplingParams
from model.tiny import build_tiny_checkpoint

MESSAGES = [{"role": "system", "content": "Cite [doc_id]."}, {"role": "user", "content": "eGFR trend?"}]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def backend(checkpoint):
    return EngineBackend.load(str(checkpoint), device="cpu", dtype="float32")


def test_load_reports_the_checkpoint(backend, checkpoint):
    assert backend.name == "tiny" and backend.random_weights is True
    assert backend.context_window == backend.engine.config.max_position_embeddings
    info = backend.info()
    assert info["kind"] == "engine" and info["checkpoint"] == str(checkpoint) and info["device"] == "cpu"
    assert info["random_weights"] is True and info["kernels"]


def test_counts_are_exact(backend):
    assert backend.count_messages(MESSAGES) == len(backend.engine.encode_chat(MESSAGES))
    assert backend.count_tokens("HbA1c 7.9%") == len(backend.engine.tokenizer.encode("HbA1c 7.9%",
                                                                                     add_special_tokens=False))


def test_stream_chat_matches_the_engine_and_honours_should_stop(backend):
    params = SamplingParams(max_tokens=12)
    ids = backend.engine.encode_chat(MESSAGES)
    expected = "".join(backend.engine.stream_text(ids, params))
    assert "".join(backend.stream_chat(MESSAGES, params)) == expected and expected
    got: list[str] = []
    for d in backend.stream_chat(MESSAGES, SamplingParams(max_tokens=200), should_stop=lambda: len(got) >= 2):
        got.append(d)
    assert len(got) == 2


def test_concurrent_requests_are_serialized_not_mixed(backend):
    params = SamplingParams(max_tokens=10)
    expected = "".join(backend.stream_chat(MESSAGES, params))
    results: list[str] = []

    def ask():
        results.append("".join(backend.stream_chat(MESSAGES, params)))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [expected] * 3


def test_prompt_over_the_memory_plan_is_refused_before_generation(backend):
    cfg = backend.engine.config
    p = plan(cfg, "float32", plan(cfg, "float32", 10**12, margin=0).bytes_for(64), margin=0)
    small = EngineBackend(backend.engine, plan=p)
    assert small.context_window == p.max_context
    with pytest.raises(PromptTooLong, match="memory plan for this GPU"):
        list(small.stream_chat([{"role": "user", "content": "dose " * 100}], SamplingParams(max_tokens=4)))
    with pytest.raises(PromptTooLong, match="context window"):
        list(backend.stream_chat(MESSAGES, SamplingParams(max_tokens=backend.context_window)))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(BackendUnavailable, match="cannot load model"):
        EngineBackend.load(str(tmp_path / "no-such-model"))


def test_an_engine_built_in_memory_works_too(checkpoint):
    engine = Engine.load(str(checkpoint))
    assert "".join(EngineBackend(engine).stream_chat(MESSAGES, SamplingParams(max_tokens=3)))
