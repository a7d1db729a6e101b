"""The OpenAI-compatible client backend: against the real server, and against servers that misbehave.

A server that dies mid-answer is a real HTTP server on 127.0.0.1 that sends two SSE events and then
drops the connection (our own server cannot be made to crash on cue).
"""

import http.server
import json
import math
import socket
import threading
import time

import httpx
import pytest

from model.backend import BackendError, BackendUnavailable, EngineBackend, PromptTooLong
from model.client import CHARS_PER_TOKEN, OpenAIBackend
from model.engine import Engine
from model.plan import plan
from model.sampling import SamplingParams
from model.serve import ServeConfig, create_app
from model.serve.thread import ServerThread
from model.tiny import build_tiny_checkpoint

KEY = "k-123"
MESSAGES = [{"role": "system", "content": "Cite [doc_id]."}, {"role": "user", "content": "Which dose?"}]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def engine(checkpoint):
    return Engine.load(str(checkpoint))


@pytest.fixture(scope="module")
def server(engine):
    with ServerThread(create_app(engine, ServeConfig(api_key=KEY, max_queue=2))) as srv:
        yield srv


def test_streams_the_same_answer_as_the_in_process_engine(server, engine, checkpoint):
    remote = OpenAIBackend(server.url, KEY, tokenizer=str(checkpoint))  # base URL without /v1 is fine
    local = EngineBackend(engine)
    params = SamplingParams(max_tokens=10)
    assert "".join(remote.stream_chat(MESSAGES, params)) == "".join(local.stream_chat(MESSAGES, params))
    assert remote.name == "tiny" and remote.context_window == engine.context_window
    assert remote.random_weights is True
    assert remote.count_messages(MESSAGES) == local.count_messages(MESSAGES)
    assert remote.count_tokens("HbA1c 7.9%") == local.count_tokens("HbA1c 7.9%")
    assert remote.info()["token_counts"].startswith("exact")


def test_without_a_tokenizer_counts_are_a_documented_estimate(server):
    remote = OpenAIBackend(server.url + "/v1", KEY)
    text = "Metformin 500 mg twice daily was started in March 2019 for type 2 diabetes."
    assert remote.count_tokens(text) == math.ceil(len(text) / CHARS_PER_TOKEN)
    assert remote.count_messages(MESSAGES) > sum(remote.count_tokens(m["content"]) for m in MESSAGES)
    assert "estimate" in remote.info()["token_counts"]


def test_should_stop_closes_the_stream_and_the_server_stops_generating(server):
    remote = OpenAIBackend(server.url, KEY)
    seen: list[str] = []
    deltas = remote.stream_chat(MESSAGES, SamplingParams(max_tokens=4000), should_stop=lambda: len(seen) >= 2)
    for d in deltas:
        seen.append(d)
    assert len(seen) == 2
    deadline = time.monotonic() + 10
    while httpx.get(server.url + "/health").json()["queue"]["running"]:
        assert time.monotonic() < deadline, "generation went on after the client left"
        time.sleep(0.05)


def test_unreachable_server_is_a_clear_error():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = OpenAIBackend(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(BackendUnavailable, match=f"cannot reach the model server at http://127.0.0.1:{port}"):
        list(remote.stream_chat(MESSAGES, SamplingParams(max_tokens=2)))


def test_wrong_key_is_a_clear_error(server):
    with pytest.raises(BackendUnavailable, match="refused the API key"):
        OpenAIBackend(server.url, "nope").name  # noqa: B018 (the property asks the server)


def test_prompt_over_the_servers_limit_raises_prompt_too_long(engine):
    gpu = plan(engine.config, "float32", 10**12, margin=0).bytes_for(100)  # a GPU that holds 100 tokens
    p = plan(engine.config, "float32", gpu, margin=0)
    with ServerThread(create_app(engine, plan=p)) as srv:
        remote = OpenAIBackend(srv.url)
        assert remote.context_window == p.max_context
        long = [{"role": "user", "content": "dose " * 300}]
        with pytest.raises(PromptTooLong, match="refused the prompt"):
            list(remote.stream_chat(long, SamplingParams(max_tokens=4)))


class _Script(http.server.BaseHTTPRequestHandler):
    """Replays ``self.server.script``: a model card, then a chat stream that goes wrong."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        body = json.dumps({"data": [{"id": "m", "max_model_len": 1000}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        status, events, close_early = self.server.script
        self.send_response(status)
        self.send_header("Content-Type", "text/event-stream" if status == 200 else "application/json")
        if status != 200:
            body = json.dumps({"error": {"message": "engine exploded", "code": None}}).encode()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for e in events:
            data = f"data: {json.dumps(e)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        if close_early:  # die without the terminating chunk: a broken connection mid-answer
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def scripted():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Script)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _delta(text):
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


@pytest.mark.parametrize("script, words", [
    ((200, [_delta("The dose "), _delta("was 500 mg")], True), "lost|closed the stream"),
    ((200, [_delta("The dose "), _delta("was 500 mg"), {"error": {"message": "CUDA OOM"}}], False),
     "CUDA OOM"),
    ((200, [_delta("The dose "), _delta("was 500 mg")], False), "before the answer finished"),
])
def test_errors_mid_stream_keep_the_partial_text(scripted, script, words):
    scripted.script = script
    remote = OpenAIBackend(f"http://127.0.0.1:{scripted.server_address[1]}")
    got: list[str] = []
    with pytest.raises(BackendError, match=words):
        for d in remote.stream_chat(MESSAGES, SamplingParams(max_tokens=8)):
            got.append(d)
    assert "".join(got) == "The dose was 500 mg"


def test_server_error_status_is_reported_with_its_message(scripted):
    scripted.script = (500, [], False)
    remote = OpenAIBackend(f"http://127.0.0.1:{scripted.server_address[1]}")
    assert remote.context_window == 1000
    with pytest.raises(BackendUnavailable, match="engine exploded"):
        list(remote.stream_chat(MESSAGES, SamplingParams(max_tokens=8)))
