"""The project's model backends as a LlamaIndex LLM, so LlamaIndex query engines can run on Jamba.

``JambaLLM(backend)`` wraps any ``ChatBackend`` (the in-process engine, or an OpenAI-compatible server)
with LlamaIndex's completion and chat interfaces, streaming included. Paired with the retriever adapter
in ``retrieval.llamaindex`` it makes a ``RetrieverQueryEngine`` over a collection. Outputs of the tiny
random-weights test model carry ``random_weights: True`` in ``additional_kwargs``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import Field, PrivateAttr

from model.backend import ChatBackend
from model.sampling import SamplingParams

_ROLES = {MessageRole.SYSTEM: "system", MessageRole.USER: "user", MessageRole.ASSISTANT: "assistant"}


class JambaLLM(CustomLLM):
    """A LlamaIndex LLM over a ``ChatBackend``; sampling options are per-LLM fields, overridable per call."""

    max_tokens: int = Field(default=512, description="answer length in tokens")
    temperature: float = Field(default=0.0, description="0 = greedy, reproducible")
    top_p: float = Field(default=1.0)
    _backend: ChatBackend = PrivateAttr()

    def __init__(self, backend: ChatBackend, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._backend = backend

    @classmethod
    def class_name(cls) -> str:
        return "docqa_jamba"

    @property
    def backend(self) -> ChatBackend:
        return self._backend

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self._backend.context_window, num_output=self.max_tokens,
                           is_chat_model=True, model_name=self._backend.name)

    # ---- one streaming path; the four LlamaIndex entry points are views of it ---------------------
    def _params(self, kwargs: dict) -> SamplingParams:
        return SamplingParams(max_tokens=int(kwargs.get("max_tokens", self.max_tokens)),
                              temperature=float(kwargs.get("temperature", self.temperature)),
                              top_p=float(kwargs.get("top_p", self.top_p)),
                              stop=tuple(kwargs.get("stop", ()) or ()))

    def _deltas(self, messages: list[dict], kwargs: dict) -> Iterator[str]:
        return self._backend.stream_chat(messages, self._params(kwargs))

    def _extra(self) -> dict:
        return {"random_weights": self._backend.random_weights, "model": self._backend.name}

    @staticmethod
    def _to_dicts(messages: Sequence[ChatMessage]) -> list[dict]:
        return [{"role": _ROLES.get(m.role, "user"), "content": m.content or ""} for m in messages]

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        text = "".join(self._deltas([{"role": "user", "content": prompt}], kwargs))
        return CompletionResponse(text=text, additional_kwargs=self._extra())

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            text = ""
            for delta in self._deltas([{"role": "user", "content": prompt}], kwargs):
                text += delta
                yield CompletionResponse(text=text, delta=delta, additional_kwargs=self._extra())

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        text = "".join(self._deltas(self._to_dicts(messages), kwargs))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text),
                            additional_kwargs=self._extra())

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        def gen() -> ChatResponseGen:
            text = ""
            for delta in self._deltas(self._to_dicts(messages), kwargs):
                text += delta
                yield ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=delta,
                                   additional_kwargs=self._extra())

        return gen()
