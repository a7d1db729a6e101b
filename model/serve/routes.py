"""The HTTP endpoints: /v1/chat/completions, /v1/completions, /v1/models, /health.

Each /v1 request is checked completely (key, body size, JSON, parameters, prompt length against the
context and the memory plan) before it is queued, so a bad request costs no GPU time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from model.sampling import SamplingParams
from model.serve.errors import APIError, bad_request
from model.serve.limits import check_api_key, read_body, resolve_max_tokens
from model.serve.responses import ResponseBuilder, sse
from model.serve.schemas import ChatRequest, CompletionRequest, parse_body
from model.serve.worker import Delta, Failed, Finished, Job, QueueFull

log = logging.getLogger(__name__)
router = APIRouter()

DISCONNECT_POLL_S = 0.25  # how often a non-streaming request checks that its client is still there


@router.get("/health")
async def health(request: Request) -> dict:
    s = request.app.state.server
    return {"status": "ok", "model": s.model_name, "random_weights": s.random_weights,
            "queue": s.worker.stats}


@router.get("/v1/models")
async def models(request: Request) -> dict:
    s = request.app.state.server
    check_api_key(request, s.config.api_key)
    card = {"id": s.model_name, "object": "model", "created": s.created, "owned_by": "docqa",
            "max_model_len": s.context_window, "random_weights": s.random_weights}
    return {"object": "list", "data": [card]}


@router.post("/v1/chat/completions")
async def chat_completions(request: Request):
    s = request.app.state.server
    check_api_key(request, s.config.api_key)
    req = parse_body(await read_body(request, s.config.max_body_bytes), ChatRequest)
    messages = [{"role": m.role, "content": m.text} for m in req.messages]
    try:
        ids = s.engine.encode_chat(messages)
    except Exception as e:  # a chat template that rejects the conversation (e.g. roles out of order)
        raise bad_request(f"the model's chat template rejected these messages: {e}",
                          param="messages") from None
    return await _run(request, ResponseBuilder("chat", s.model_name), req, ids)


@router.post("/v1/completions")
async def completions(request: Request):
    s = request.app.state.server
    check_api_key(request, s.config.api_key)
    req = parse_body(await read_body(request, s.config.max_body_bytes), CompletionRequest)
    prompt = req.prompt
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], int):
        vocab = s.engine.config.vocab_size
        if any(not 0 <= t < vocab for t in prompt):
            raise bad_request(f"prompt token ids must be in [0, {vocab})", param="prompt")
        ids = list(prompt)
    else:
        text = prompt if isinstance(prompt, str) else "".join(prompt)
        ids = s.engine.tokenizer.encode(text, add_special_tokens=True)
    if not ids:
        raise bad_request("prompt is empty", param="prompt")
    return await _run(request, ResponseBuilder("text", s.model_name), req, ids)


def _params(s, req, n_prompt: int) -> SamplingParams:
    # The memory plan first: its refusal explains what does not fit on this GPU, and why.
    s.check_plan(n_prompt + (req.requested_max_tokens or 1))
    max_tokens = resolve_max_tokens(req.requested_max_tokens, n_prompt, s.context_window,
                                    s.config.default_max_tokens, s.config.max_tokens_limit)
    return SamplingParams(
        max_tokens=max_tokens,
        # OpenAI's defaults: temperature 1, top_p 1.
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        stop=req.stop_strings,
        seed=req.seed,
    )


class _Channel:
    """Carries worker-thread events into this request's event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()

    def emit(self, event) -> None:
        # RuntimeError: the loop is gone (server shutting down), so nobody is listening.
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)


async def _run(request: Request, rb: ResponseBuilder, req, ids: list[int]):
    s = request.app.state.server
    params = _params(s, req, len(ids))
    channel = _Channel()
    job = Job(prompt_ids=ids, params=params, emit=channel.emit)
    try:
        s.worker.submit(job)
    except QueueFull as e:
        raise APIError(429, str(e), type="rate_limit_error", code="server_busy",
                       headers={"Retry-After": "1"}) from None
    headers = {"X-Docqa-Random-Weights": "true"} if s.random_weights else None
    if req.stream:
        return StreamingResponse(_stream(rb, job, channel, len(ids), req.include_usage),
                                 media_type="text/event-stream", headers=headers)
    return await _collect(request, rb, job, channel, len(ids), headers)


async def _stream(rb: ResponseBuilder, job: Job, channel: _Channel, n_prompt: int, include_usage: bool):
    """SSE for one request; leaving early (client gone) cancels the generation between tokens."""
    try:
        yield sse(rb.chunk(first=True) if rb.kind == "chat" else rb.chunk(text=""))
        while True:
            event = await channel.queue.get()
            if isinstance(event, Delta):
                yield sse(rb.chunk(text=event.text))
            elif isinstance(event, Finished):
                yield sse(rb.chunk(finish_reason=event.finish_reason))
                if include_usage:
                    yield sse(rb.usage_chunk(n_prompt, event.completion_tokens))
                yield sse("[DONE]")
                return
            elif isinstance(event, Failed):
                yield sse(APIError(event.status, event.message, type="server_error").body())
                return
    finally:
        job.cancel.set()


async def _watch_disconnect(request: Request, job: Job) -> None:
    """Cancel ``job`` when its client goes away (checked every DISCONNECT_POLL_S, whatever else happens)."""
    while not job.cancel.is_set():
        if await request.is_disconnected():
            log.info("client left; generation cancelled")
            job.cancel.set()
            return
        await asyncio.sleep(DISCONNECT_POLL_S)


async def _collect(request: Request, rb: ResponseBuilder, job: Job, channel: _Channel, n_prompt: int,
                   headers: dict | None):
    parts: list[str] = []
    watcher = asyncio.create_task(_watch_disconnect(request, job))
    try:
        while True:
            event = await channel.queue.get()
            if isinstance(event, Delta):
                parts.append(event.text)
            elif isinstance(event, Finished):
                if event.finish_reason == "cancelled":
                    return JSONResponse({}, status_code=499)  # nobody is listening; nginx's "client closed"
                body = rb.full("".join(parts), event.finish_reason, n_prompt, event.completion_tokens)
                return JSONResponse(body, headers=headers)
            elif isinstance(event, Failed):
                raise APIError(event.status, event.message, type="server_error")
    finally:
        watcher.cancel()
        job.cancel.set()
