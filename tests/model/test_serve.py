"""The OpenAI-compatible server, started for real on a free local port over the tiny checkpoint.

Official ``openai`` client for the happy paths (streaming and not); raw httpx for the error paths,
the queue limit and client disconnects.
"""

import time

import httpx
import openai
import pytest

from model.engine import Engine
from model.plan import plan
from model.serve import ServeConfig, create_app
from model.serve.thread import ServerThread
from model.tiny import build_tiny_checkpoint

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MESSAGES = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is HbA1c?"}]
LONG = 4000  # answer tokens for requests that must still be generating while the test acts
# Greedy for those: the tiny model never emits EOS on MESSAGES greedily, while sampling (the API's
# default temperature is 1) can end after a handful of tokens and race the test.
LONG_BODY = {"messages": MESSAGES, "max_tokens": LONG, "temperature": 0}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    folder = build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")
    return Engine.load(str(folder))


@pytest.fixture(scope="module")
def server(engine):
    # max_queue=0: one request at a time, so a second concurrent one is refused (the 429 path).
    config = ServeConfig(api_key=KEY, max_queue=0, max_body_bytes=256 * 1024, max_tokens_limit=8000)
    with ServerThread(create_app(engine, config)) as srv:
        yield srv


@pytest.fixture
def client(server):
    wait_idle(server.url)
    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0, timeout=60)


def wait_idle(url: str, timeout_s: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        health = httpx.get(url + "/health").json()
        q = health["queue"]
        if q["running"] == 0 and q["waiting"] == 0:
            return health
        assert time.monotonic() < deadline, f"server still busy: {q}"
        time.sleep(0.05)


def post(server, path: str, **kwargs) -> httpx.Response:
    wait_idle(server.url)
    headers = {**AUTH, **kwargs.pop("headers", {})}
    return httpx.post(server.url + path, headers=headers, timeout=60, **kwargs)


def test_models_and_health_report_the_checkpoint(client, server, engine):
    cards = client.models.list().data
    assert [c.id for c in cards] == ["tiny"]
    assert cards[0].max_model_len == engine.context_window and cards[0].random_weights is True
    health = httpx.get(server.url + "/health").json()  # no key needed for a liveness probe
    assert health["status"] == "ok" and health["random_weights"] is True


def test_chat_streaming_equals_non_streaming(client, engine):
    full = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=12, temperature=0)
    assert full.object == "chat.completion"
    assert full.usage.prompt_tokens == len(engine.encode_chat(MESSAGES))
    assert 1 <= full.usage.completion_tokens <= 12
    assert full.choices[0].finish_reason in ("length", "stop")

    stream = client.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=12, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == full.choices[0].message.content and text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == full.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_text_completions_with_text_and_token_prompts(client, engine):
    a = client.completions.create(model="tiny", prompt="Metformin 500 mg", max_tokens=5, temperature=0)
    assert a.object == "text_completion" and a.usage.completion_tokens <= 5
    ids = engine.tokenizer.encode("Metformin 500 mg", add_special_tokens=True)
    b = client.completions.create(model="tiny", prompt=ids, max_tokens=5, temperature=0)
    assert b.choices[0].text == a.choices[0].text
    streamed = client.completions.create(model="tiny", prompt="Metformin 500 mg", max_tokens=5,
                                         temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == a.choices[0].text


def test_seeded_sampling_is_reproducible(client):
    kw = dict(model="tiny", messages=MESSAGES, max_tokens=8, temperature=1.0, top_p=0.9, seed=11)
    first = client.chat.completions.create(**kw).choices[0].message.content
    assert client.chat.completions.create(**kw).choices[0].message.content == first


def test_api_key_is_required(server):
    bad = openai.OpenAI(base_url=server.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="API key"):
        bad.chat.completions.create(model="tiny", messages=MESSAGES, max_tokens=2)
    r = httpx.get(server.url + "/v1/models")
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("body, status, param, words", [
    (b"{not json", 400, None, "not valid JSON"),
    (b"[1, 2]", 400, None, "JSON object"),
    (b'{"messages": []}', 400, "messages", "at least 1"),
    (b'{"messages": [{"role": "robot", "content": "x"}]}', 400, "messages", "role"),
    (b'{"messages": [{"role": "user", "content": "x"}], "temperature": 5}', 400, "temperature", "2"),
    (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', 400, "max_tokens", "at least 1"),
    (b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 9000}', 400, "max_tokens", "at most"),
    (b'{"messages": [{"role": "user", "content": "x"}], "n": 3}', 400, "n", "1"),
    (b'{"messages": [{"role": "user", "content": "x"}], "logprobs": true}', 400, "logprobs", "not supported"),
])
def test_bad_requests_get_clear_openai_style_errors(server, body, status, param, words):
    r = post(server, "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and words in err["message"]


def test_oversize_body_is_refused_before_reading(server):
    r = post(server, "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * 300_000}]})
    assert r.status_code == 413 and "exceeds the limit" in r.json()["error"]["message"]


def test_queue_full_gives_429_and_disconnect_stops_generation(server):
    before = wait_idle(server.url)["queue"]["finished"].get("cancelled", 0)
    body = {**LONG_BODY, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=60) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")  # accepted and queued: the worker is now busy
        busy = httpx.post(server.url + "/v1/chat/completions", headers=AUTH, timeout=60,
                          json={"messages": MESSAGES, "max_tokens": 2})
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        assert busy.json()["error"]["code"] == "server_busy"
        for _ in range(3):  # a few tokens arrive, then the client goes away
            next(line for line in lines if line.startswith("data: "))
    t0 = time.monotonic()
    health = wait_idle(server.url, timeout_s=10)
    assert time.monotonic() - t0 < 5  # stopped between tokens, not after thousands more
    assert health["queue"]["finished"].get("cancelled", 0) == before + 1


def test_non_streaming_client_that_times_out_cancels_generation(server):
    before = wait_idle(server.url)["queue"]["finished"].get("cancelled", 0)
    try:
        r = httpx.post(server.url + "/v1/chat/completions", headers=AUTH, timeout=httpx.Timeout(60, read=1.0),
                       json=LONG_BODY)
        pytest.fail(f"expected the client to time out, got {r.status_code}: {r.text[:300]}")
    except httpx.ReadTimeout:
        pass
    health = wait_idle(server.url, timeout_s=10)
    assert health["queue"]["finished"].get("cancelled", 0) == before + 1


def test_prompt_over_the_memory_plan_is_refused_with_the_planners_reason(engine):
    small = plan(engine.config, "float32", 10**12, margin=0)
    gpu = small.bytes_for(200)  # a pretend GPU that holds 200 tokens of this model
    p = plan(engine.config, "float32", gpu, margin=0)
    assert 150 < p.max_context <= 200
    with ServerThread(create_app(engine, ServeConfig(), plan=p)) as srv:
        assert httpx.get(srv.url + "/v1/models").json()["data"][0]["max_model_len"] == p.max_context
        r = httpx.post(srv.url + "/v1/chat/completions", timeout=30,
                       json={"messages": [{"role": "user", "content": "word " * 400}], "max_tokens": 4})
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["code"] == "context_length_exceeded" and "GPU has" in err["message"]
        ok = httpx.post(srv.url + "/v1/chat/completions", timeout=30,
                        json={"messages": [{"role": "user", "content": "word"}], "max_tokens": 4})
        assert ok.status_code == 200
