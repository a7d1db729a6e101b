"""Request bodies of the OpenAI API subset we serve, validated into plain values before any work.

Unknown fields are ignored (clients send many optional ones); fields we cannot honour with a value other
than the default (``n > 1``, ``logprobs``, tools) are refused with a message naming the field.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from model.serve.errors import bad_request


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Body):
    type: Literal["text"]
    text: str


class ChatMessage(_Body):
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class StreamOptions(_Body):
    include_usage: bool = False


class _Generation(_Body):
    model: str | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None  # the newer name for max_tokens in OpenAI's chat API
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=1, description="one choice per request")
    logprobs: bool | int | None = None
    tools: list | None = None

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    @property
    def stop_strings(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        stops = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)
        return tuple(s for s in stops if s)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatRequest(_Generation):
    messages: list[ChatMessage] = Field(min_length=1)


class CompletionRequest(_Generation):
    prompt: str | list[str] | list[int]
    echo: bool = False


def _describe(err: ValidationError) -> tuple[str, str | None]:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if not isinstance(p, str) or p not in ("str", "list[int]"))
    param = str(first["loc"][0]) if first["loc"] else None
    return (f"{loc}: {first['msg']}" if loc else first["msg"]), param


def parse_body(raw: bytes, cls: type[_Generation]) -> _Generation:
    """JSON bytes -> a validated request, or a 400 that says what is wrong."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad_request(f"request body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise bad_request("request body must be a JSON object")
    try:
        req = cls.model_validate(data)
    except ValidationError as e:
        message, param = _describe(e)
        raise bad_request(message, param=param) from None
    if req.logprobs:
        raise bad_request("logprobs are not supported by this server", param="logprobs")
    if req.tools:
        raise bad_request("tool calls are not supported by this server", param="tools")
    if len(req.stop_strings) > 4:
        raise bad_request("at most 4 stop sequences", param="stop")
    if isinstance(req, CompletionRequest):
        if req.echo:
            raise bad_request("echo is not supported by this server", param="echo")
        prompt = req.prompt
        if isinstance(prompt, list) and len(prompt) > 1 and isinstance(prompt[0], str):
            raise bad_request("one prompt per request (batching prompts is not supported)", param="prompt")
    return req
