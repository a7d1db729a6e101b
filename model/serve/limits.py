"""Checks that run before any work: API key, body size, and whether prompt + answer fit the model."""

from __future__ import annotations

import hmac

from fastapi import Request

from model.serve.errors import APIError, bad_request


def check_api_key(request: Request, api_key: str | None) -> None:
    if api_key is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
        raise APIError(401, "missing or invalid API key: send 'Authorization: Bearer <key>'",
                       type="authentication_error", code="invalid_api_key")


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to exceed ``limit`` bytes (before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"request body of {int(declared):,} bytes exceeds the limit of {limit:,} bytes",
                       code="body_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise APIError(413, f"request body exceeds the limit of {limit:,} bytes", code="body_too_large")
        chunks.append(chunk)
    if size == 0:
        raise bad_request("request body is empty; send a JSON object")
    return b"".join(chunks)


def resolve_max_tokens(requested: int | None, n_prompt: int, context: int, default: int,
                       limit: int | None) -> int:
    """Answer length for a request: in range, and fitting beside the prompt; else a 400 saying why."""
    room = context - n_prompt
    if room <= 0:
        raise bad_request(
            f"this model's maximum context length is {context:,} tokens, but the prompt is {n_prompt:,} "
            "tokens; shorten it", param="messages", code="context_length_exceeded")
    if requested is None:
        return max(1, min(default, room, limit or room))
    if requested < 1:
        raise bad_request(f"max_tokens must be at least 1, got {requested}", param="max_tokens")
    if limit is not None and requested > limit:
        raise bad_request(f"max_tokens must be at most {limit:,}, got {requested:,}", param="max_tokens")
    if requested > room:
        raise bad_request(
            f"this model's maximum context length is {context:,} tokens; you requested "
            f"{n_prompt + requested:,} tokens ({n_prompt:,} in the prompt, {requested:,} for the answer); "
            "shorten the prompt or lower max_tokens", param="max_tokens", code="context_length_exceeded")
    return requested
