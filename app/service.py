"""The question-answering service: retrieval and packing, streamed generation, checked citations.

One implementation path for every front door (``ask`` CLI, Streamlit UI, batch analysis)::

    service = QAService(data_dir, backend, embedder)
    for event in service.ask(question, "samples", doc_ids=["P0007"]):
        RetrievalDone -> the packed prompt and the evidence, before any token
        TextDelta     -> a piece of the answer
        AnswerDone    -> the Answer: text, checked citations, evidence, timings (also after a failure)

Bad input (empty question, unknown collection or document, a prompt over the context) raises
``QAError`` before anything is generated. A failure while generating (server gone mid-stream) does
not raise: the final ``Answer`` keeps the partial text and says ``status="failed"`` with the reason.

Privacy: logs carry ids, counts and timings only; question text is logged at DEBUG when ``debug``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from app.citations import build_citations, evidence_answer, top_evidence
from app.settings import Settings
from app.types import Answer, AnswerDone, AnswerEvent, RetrievalDone, TextDelta, Timings
from ingest.errors import CollectionNotFound, DocumentNotFound, StoreError
from ingest.store import CollectionStore
from model.backend import BackendError, ChatBackend, PromptTooLong
from model.sampling import SamplingParams
from retrieval.errors import QuestionTooLong, RetrievalError
from retrieval.evidence import evidence
from retrieval.filters import Filters
from retrieval.pack import pack
from retrieval.retriever import Retriever
from retrieval.types import EvidenceSpan, PackedContext, ScoredDocument

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 512  # a cited multi-paragraph answer
RANDOM_WEIGHTS_MAX_TOKENS = 64  # the tiny test model writes noise: a labelled sample is enough
EVIDENCE_PER_DOC = 3
SEMANTIC_EVIDENCE_DOCS = 3  # top-ranked documents whose evidence is also scored with the embedder


class QAError(Exception):
    """A question the service cannot start on. ``kind`` lets front doors pick an exit code or a message:
    "bad_input", "not_found", "too_long", "model_unavailable"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class QAService:
    """Answers questions over the collections under ``data_dir`` with one model backend."""

    def __init__(self, data_dir: str | Path, backend: ChatBackend, embedder, *, mode: str = "hybrid",
                 k: int = 20, order: str = "edges", semantic_evidence_docs: int = SEMANTIC_EVIDENCE_DOCS,
                 debug: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.backend = backend
        self.embedder = embedder
        self.mode, self.k, self.order = mode, k, order
        self.semantic_evidence_docs = semantic_evidence_docs
        self.debug = debug
        self._retrievers: dict[str, Retriever] = {}
        self._lock = threading.Lock()
        self._model_info: tuple[ChatBackend, dict] | None = None

    # ---- collections ----------------------------------------------------------------------------
    def collections(self) -> list[str]:
        return CollectionStore.list_collections(self.data_dir)

    def retriever(self, collection: str) -> Retriever:
        """One retriever per collection, opened once (its store handle and BM25 index are reused)."""
        with self._lock:
            if collection not in self._retrievers:
                try:
                    store = CollectionStore.open(self.data_dir, collection)
                except CollectionNotFound:
                    known = ", ".join(self.collections()) or "none"
                    raise QAError("not_found", f"unknown collection {collection!r} in {self.data_dir} "
                                  f"(collections: {known})") from None
                except StoreError as e:
                    raise QAError("bad_input", f"collection {collection!r} cannot be opened: {e}") from None
                try:
                    self._retrievers[collection] = Retriever(store, self.embedder, mode=self.mode)
                except (StoreError, ValueError) as e:  # e.g. embedded with another model
                    store.close()
                    raise QAError("bad_input", f"collection {collection!r}: {e}") from None
            return self._retrievers[collection]

    def close(self) -> None:
        with self._lock:
            for r in self._retrievers.values():
                r.store.close()
            self._retrievers.clear()

    # ---- asking ---------------------------------------------------------------------------------
    def model_info(self) -> dict:
        """The backend's info(), fetched once (a remote server is asked only the first time)."""
        if self._model_info is None or self._model_info[0] is not self.backend:
            self._model_info = (self.backend, self.backend.info())
        return self._model_info[1]

    def default_params(self) -> SamplingParams:
        n = RANDOM_WEIGHTS_MAX_TOKENS if self.backend.random_weights else DEFAULT_MAX_TOKENS
        return SamplingParams(max_tokens=n)

    def ask(self, question: str, collection: str, doc_ids: Sequence[str] | None = None,
            filters: Filters | None = None, budget: int | None = None,
            params: SamplingParams | None = None) -> Iterator[AnswerEvent]:
        """Stream the events of one answer; see the module docstring."""
        t_start = time.perf_counter()
        if not question or not question.strip():
            raise QAError("bad_input", "the question is empty; type a question")
        try:
            params = params or self.default_params()
        except BackendError as e:  # a remote backend asked for its model card
            raise QAError("model_unavailable", str(e)) from None
        if self.debug:
            log.debug("question: %r", question)
        ranked, retrieval_ms = self._retrieve(question, collection, doc_ids, filters)
        t_pack = time.perf_counter()
        packed = self._pack(ranked, question, budget, params)
        pack_ms = (time.perf_counter() - t_pack) * 1000
        spans = self._evidence(ranked, packed, question)
        best = top_evidence(spans, ranks={d.doc_id: d.rank for d in packed.documents})
        log.info("collection %s: %d ranked, %d packed (%d tokens), %d dropped; retrieval %.0f ms, "
                 "pack %.0f ms", collection, len(ranked), len(packed.documents), packed.prompt_tokens,
                 len(packed.dropped), retrieval_ms, pack_ms)
        timings = Timings(retrieval_ms=retrieval_ms, pack_ms=pack_ms, prompt_tokens=packed.prompt_tokens)
        yield RetrievalDone(packed, tuple(ranked), best, evidence_answer(best, packed), timings)

        text, error, ttft_ms, generation_ms = yield from self._generate(packed, params)
        timings = replace(timings, ttft_ms=ttft_ms, generation_ms=generation_ms,
                          total_ms=(time.perf_counter() - t_start) * 1000,
                          output_tokens=self.backend.count_tokens(text) if text else 0)
        answer = Answer(
            text=text, citations=build_citations(text, packed, spans, best), packed=packed, timings=timings,
            model=self.model_info(), random_weights=self.backend.random_weights, evidence=best,
            evidence_answer=evidence_answer(best, packed), status="failed" if error else "ok", error=error,
            ranked=tuple(ranked),
        )
        log.info("answer: %d tokens, %d citations (%d invalid), status %s, total %.0f ms",
                 timings.output_tokens, len(answer.citations), len(answer.invalid_citations), answer.status,
                 timings.total_ms)
        yield AnswerDone(answer)

    def answer(self, question: str, collection: str, **kwargs):
        """The final ``Answer`` only: ``ask`` consumed to the end (for batch analysis and tests)."""
        for event in self.ask(question, collection, **kwargs):
            if isinstance(event, AnswerDone):
                return event.answer
        raise RuntimeError("ask() ended without an answer")  # unreachable: ask always ends with AnswerDone

    # ---- stages ---------------------------------------------------------------------------------
    def _retrieve(self, question: str, collection: str, doc_ids: Sequence[str] | None,
                  filters: Filters | None) -> tuple[list[ScoredDocument], float]:
        retriever = self.retriever(collection)
        if doc_ids:
            self._check_doc_ids(retriever, collection, doc_ids)
        t0 = time.perf_counter()
        try:
            ranked = retriever.search(question, k=self.k, filters=filters, doc_ids=list(doc_ids or ()))
        except RetrievalError as e:
            raise QAError("bad_input", str(e)) from None
        except DocumentNotFound as e:
            raise QAError("not_found", f"unknown document in collection {collection!r}: {e}") from None
        return ranked, (time.perf_counter() - t0) * 1000

    @staticmethod
    def _check_doc_ids(retriever: Retriever, collection: str, doc_ids: Sequence[str]) -> None:
        known = {d.doc_id for d in retriever.store.list_documents()}
        missing = [d for d in doc_ids if d not in known]
        if missing:
            raise QAError("not_found", f"unknown document id(s) in collection {collection!r}: "
                          f"{', '.join(missing)}")

    def _pack(self, ranked: list[ScoredDocument], question: str, budget: int | None,
              params: SamplingParams) -> PackedContext:
        """``budget`` is the prompt's share (the Settings contract); pack() wants prompt + answer."""
        try:
            window = self.backend.context_window
            total = window if budget is None else min(budget + params.max_tokens, window)
            packed = pack(ranked, question=question, budget=total, count_tokens=self.backend.count_tokens,
                          count_messages=self.backend.count_messages, reserve=params.max_tokens,
                          order=self.order)
            self.backend.check_fits(packed.prompt_tokens, params.max_tokens)
        except QuestionTooLong as e:
            raise QAError("too_long", str(e)) from None
        except RetrievalError as e:
            raise QAError("bad_input", str(e)) from None
        except PromptTooLong as e:
            raise QAError("too_long", str(e)) from None
        except BackendError as e:
            raise QAError("model_unavailable", str(e)) from None
        return packed

    def _evidence(self, ranked: list[ScoredDocument], packed: PackedContext,
                  question: str) -> dict[str, tuple[EvidenceSpan, ...]]:
        """Evidence passages per packed document (offsets into the original text), from the parts the
        model read. The strongest documents are also scored semantically with the embedder; the rest
        lexically only, which keeps this to a fraction of a second for a 20-document prompt."""
        by_id = {sd.doc_id: sd for sd in ranked}
        out: dict[str, tuple[EvidenceSpan, ...]] = {}
        for d in packed.documents:
            sd = by_id.get(d.doc_id)
            if sd is None:
                continue
            embedder = self.embedder if d.rank <= self.semantic_evidence_docs else None
            spans = evidence(sd.document, question, hits=sd.hits, k=EVIDENCE_PER_DOC + 2, embedder=embedder,
                             within=d.kept or None)
            # A heading ("# Ana Diaz (P0001)") matches names in the question but supports no claim.
            out[d.doc_id] = tuple(s for s in spans if not s.text.lstrip().startswith("#"))[:EVIDENCE_PER_DOC]
        return out

    def _generate(self, packed: PackedContext, params: SamplingParams):
        """Yield ``TextDelta``s; return (text, error or None, time to first token, generation ms).

        A backend failure ends the stream without raising: the text so far is kept for the answer.
        """
        parts: list[str] = []
        error, ttft_ms = None, None
        t0 = time.perf_counter()
        try:
            for delta in self.backend.stream_chat(list(packed.messages), params):
                if ttft_ms is None:
                    ttft_ms = (time.perf_counter() - t0) * 1000
                parts.append(delta)
                yield TextDelta(delta)
        except BackendError as e:
            error = str(e)
            log.warning("generation failed after %d deltas: %s", len(parts), type(e).__name__)
        return "".join(parts), error, ttft_ms, (time.perf_counter() - t0) * 1000


# ---- building a service from settings (the front doors' one-liner) -----------------------------------

def check_collection(data_dir: Path, collection: str) -> None:
    """Fail fast, before any model loads, when the collection does not exist."""
    known = CollectionStore.list_collections(Path(data_dir))
    if collection not in known:
        raise QAError("not_found", f"unknown collection {collection!r} in {data_dir} "
                      f"(collections: {', '.join(known) or 'none'})")


def build_backend(settings: Settings) -> ChatBackend:
    """The configured model: a server URL, else a checkpoint, else the tiny random-weights test model."""
    try:
        if settings.server_url:
            from model.client import OpenAIBackend

            backend = OpenAIBackend(settings.server_url, settings.api_key,
                                    tokenizer=settings.resolved_tokenizer)
            backend.info()  # ask the server now: unreachable or refusing is a clear error before any work
            return backend
        from model.backend import EngineBackend

        model = settings.resolved_model
        if settings.model is None and not (Path(model) / "config.json").is_file():
            raise QAError("model_unavailable", f"no model configured (--model, --server, DOCQA_MODEL or "
                          f"DOCQA_SERVER_URL) and the tiny test checkpoint {model} is missing; "
                          "run scripts/setup.sh or python -m model.tiny --out " + model)
        return EngineBackend.load(model, device=settings.device, dtype=settings.resolved_dtype)
    except BackendError as e:
        raise QAError("model_unavailable", str(e)) from None


def build_service(settings: Settings, **kwargs) -> QAService:
    from ingest.embed import Embedder

    backend = build_backend(settings)
    embedder = Embedder(settings.embed_model)
    return QAService(settings.data_dir, backend, embedder, debug=settings.debug, **kwargs)
