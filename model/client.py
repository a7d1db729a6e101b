"""A ``ChatBackend`` over any OpenAI-compatible server: this project's ``model.serve``, or vLLM serving Jamba.

Streams ``/v1/chat/completions`` over SSE with httpx. The server's ``/v1/models`` card gives the model id
and, when the server reports it (vLLM's and ours do: ``max_model_len``), the context window.

Token counts: with a local tokenizer configured (the served model's tokenizer folder or hub id) they
are exact; without one they are an estimate of one token per ``CHARS_PER_TOKEN`` characters, rounded
up. BPE tokenizers average about 4 characters per token on English prose, so the estimate errs on the
side of over-counting: packing then leaves some budget unused rather than overflowing the context.
``info()`` says which applies.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator

import httpx

from model.backend import BackendError, BackendUnavailable, ChatBackend, Messages, PromptTooLong, ShouldStop
from model.sampling import SamplingParams

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.0
MESSAGE_OVERHEAD = 8  # role markers and separators a chat template adds per message (estimate mode)
# Servers that do not report their context window (OpenAI itself) get a conservative default.
DEFAULT_CONTEXT_WINDOW = 32768


def _api_base(url: str) -> str:
    """Accept ``http://host:8000`` or ``http://host:8000/v1``; return the ``/v1`` base."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def _error_message(response: httpx.Response) -> tuple[str, str | None]:
    try:
        err = response.json().get("error")
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
        err = None
    if isinstance(err, dict):
        return str(err.get("message") or err), err.get("code")
    if isinstance(err, str):
        return err, None
    return response.text[:300] or response.reason_phrase, None


class OpenAIBackend(ChatBackend):
    """A remote model behind an OpenAI-compatible API, identified by base URL and optional key."""

    def __init__(self, base_url: str, api_key: str | None = None, *, model: str | None = None,
                 tokenizer: str | None = None, context_window: int | None = None,
                 timeout_s: float = 600.0, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = _api_base(base_url)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # Connecting should be quick; reading may wait through a long prefill (256K tokens: minutes).
        timeout = httpx.Timeout(timeout_s, connect=10.0)
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout,
                                  transport=transport)
        self._model = model
        self._context_window = context_window
        self._card: dict | None = None
        self.tokenizer_name = tokenizer
        self._tokenizer = _load_tokenizer(tokenizer) if tokenizer else None

    # ---- the server's model card ----------------------------------------------------------------
    def _get_card(self) -> dict:
        if self._card is None:
            response = self._request("GET", "/models")
            cards = response.json().get("data") or []
            if not cards:
                raise BackendError(f"model server at {self.base_url} serves no models")
            wanted = [c for c in cards if c.get("id") == self._model] if self._model else cards
            if not wanted:
                ids = ", ".join(str(c.get("id")) for c in cards)
                raise BackendError(
                    f"model server at {self.base_url} does not serve {self._model!r} (it serves {ids})")
            self._card = wanted[0]
        return self._card

    @property
    def name(self) -> str:
        return str(self._get_card()["id"])

    @property
    def context_window(self) -> int:
        if self._context_window is not None:
            return self._context_window
        return int(self._get_card().get("max_model_len") or DEFAULT_CONTEXT_WINDOW)

    @property
    def random_weights(self) -> bool:
        return bool(self._get_card().get("random_weights", False))

    # ---- counting -------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False))
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def count_messages(self, messages: Messages) -> int:
        tok = self._tokenizer
        if tok is not None and getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                          return_dict=False)
            return len(ids)
        return sum(self.count_tokens(m["content"]) + MESSAGE_OVERHEAD for m in messages) + MESSAGE_OVERHEAD

    # ---- generation -----------------------------------------------------------------------------
    def stream_chat(
        self, messages: Messages, params: SamplingParams, should_stop: ShouldStop | None = None
    ) -> Iterator[str]:
        body = {"model": self.name, "messages": messages, "stream": True, "max_tokens": params.max_tokens,
                "temperature": params.temperature, "top_p": params.top_p}
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        try:
            with self._http.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise self._http_error(response)
                yield from self._deltas(response, should_stop)
        except httpx.TransportError as e:
            raise self._transport_error(e) from e

    def _deltas(self, response: httpx.Response, should_stop: ShouldStop | None) -> Iterator[str]:
        """Text deltas from an SSE stream; closing the response early stops the server's generation."""
        finished = False
        for line in response.iter_lines():
            if should_stop is not None and should_stop():
                return
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                return
            try:
                chunk = json.loads(payload)
            except json.JSONDecodeError:
                raise BackendError("model server sent a malformed stream event") from None
            if "error" in chunk:
                err = chunk["error"]
                raise BackendError(f"model server failed mid-answer: {err.get('message', err)}")
            for choice in chunk.get("choices") or []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield text
                finished = finished or choice.get("finish_reason") is not None
        if not finished:
            raise BackendError("model server closed the stream before the answer finished")

    # ---- errors ---------------------------------------------------------------------------------
    def _request(self, method: str, path: str) -> httpx.Response:
        try:
            response = self._http.request(method, path)
        except httpx.TransportError as e:
            raise self._transport_error(e) from e
        if response.status_code != 200:
            raise self._http_error(response)
        return response

    def _transport_error(self, e: httpx.TransportError) -> BackendError:
        if isinstance(e, httpx.ConnectError | httpx.ConnectTimeout):
            return BackendUnavailable(f"cannot reach the model server at {self.base_url}: {e}")
        if isinstance(e, httpx.TimeoutException):
            return BackendError(f"model server at {self.base_url} timed out: {type(e).__name__}")
        return BackendError(f"connection to the model server at {self.base_url} was lost: {e}")

    def _http_error(self, response: httpx.Response) -> BackendError:
        message, code = _error_message(response)
        status = response.status_code
        if code == "context_length_exceeded" or "maximum context length" in message:
            return PromptTooLong(f"model server refused the prompt: {message}")
        if status in (401, 403):
            return BackendUnavailable(
                f"model server at {self.base_url} refused the API key ({status}): {message}")
        if status == 429:
            return BackendError(f"model server is busy (429): {message}; retry shortly")
        if status >= 500:
            return BackendUnavailable(f"model server error ({status}): {message}")
        return BackendError(f"model server rejected the request ({status}): {message}")

    def info(self) -> dict:
        counts = (f"exact (tokenizer {self.tokenizer_name})" if self._tokenizer is not None else
                  f"estimate: 1 token per {CHARS_PER_TOKEN:g} characters, rounded up (no local tokenizer)")
        return {"kind": "server", "url": self.base_url, "name": self.name,
                "context_window": self.context_window, "random_weights": self.random_weights,
                "token_counts": counts}

    def close(self) -> None:
        self._http.close()


def _load_tokenizer(name: str):
    """A local tokenizer folder or hub id (the hub only when reachable), for exact token counts."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise BackendUnavailable(f"cannot load tokenizer {name!r} for token counts: {e}") from e
