"""The question-answering service over a real collection, with the tiny engine or a scripted model.

The tiny checkpoint has random weights, so it cannot be asked to cite anything; tests of citation
checking use ``ScriptedBackend``: the real engine's tokenizer and limits, with a fixed answer text.
"""

import logging
from collections.abc import Iterator

import pytest

from app.service import QAError, QAService
from app.types import RANDOM_WEIGHTS_LABEL, AnswerDone, RetrievalDone, TextDelta
from model.backend import BackendError, ChatBackend, EngineBackend
from model.client import OpenAIBackend
from model.plan import plan
from model.sampling import SamplingParams
from model.serve import create_app
from model.serve.thread import ServerThread
from retrieval.filters import Filters

QUESTION = "What dose of metformin was Ana Diaz on in 2021?"
SHORT = SamplingParams(max_tokens=6)


class ScriptedBackend(ChatBackend):
    """A model that answers with fixed text (optionally failing after some deltas); real counting."""

    def __init__(self, inner: EngineBackend, text: str, fail_after: int | None = None) -> None:
        self.inner, self.text, self.fail_after = inner, text, fail_after
        self.name, self.context_window, self.random_weights = "scripted", inner.context_window, False
        self.seen_messages: list[dict] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_messages(self, messages) -> int:
        return self.inner.count_messages(messages)

    def stream_chat(self, messages, params, should_stop=None) -> Iterator[str]:
        self.seen_messages = list(messages)
        for i, word in enumerate(self.text.split(" ")):
            if self.fail_after is not None and i == self.fail_after:
                raise BackendError("connection to the model server was lost: peer closed connection")
            yield word if i == 0 else " " + word

    def info(self) -> dict:
        return {"kind": "scripted", "name": self.name}


def _events(service, question=QUESTION, **kwargs):
    return list(service.ask(question, "clinic", **kwargs))


def _packed(service, question=QUESTION, **kwargs):
    """The packed context only: the first event; closing the stream there skips generation."""
    events = service.ask(question, "clinic", **kwargs)
    first = next(events)
    events.close()
    return first.packed


def test_events_stream_in_order_and_make_a_labelled_answer(service):
    service.semantic_evidence_docs = 3  # the default: the top documents' evidence scored semantically too
    events = _events(service, params=SHORT)
    assert isinstance(events[0], RetrievalDone) and isinstance(events[-1], AnswerDone)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    answer = events[-1].answer
    assert answer.ok and answer.text == "".join(deltas) and deltas
    assert answer.packed.doc_ids[0] == "P0001" or "P0001" in answer.packed.doc_ids[:2]
    assert answer.random_weights and answer.label == RANDOM_WEIGHTS_LABEL
    # Random weights cite nothing valid: the retrieval evidence is attached and leads the evidence answer.
    assert any(c.source == "retrieval" and c.doc_id == "P0001" for c in answer.citations)
    assert "[P0001]" in answer.evidence_answer and "metformin" in answer.evidence_answer.lower()
    spans = [s for s in answer.evidence if s.doc_id == "P0001"]
    doc = service.retriever("clinic").store.get_document("P0001")
    assert spans and all(doc.text[s.start:s.end] == s.text for s in spans)
    t = answer.timings
    assert t.retrieval_ms > 0 and t.ttft_ms is not None and t.total_ms >= t.generation_ms >= t.ttft_ms
    assert t.prompt_tokens == answer.packed.prompt_tokens and 1 <= t.output_tokens <= 6
    assert answer.model["kind"] == "engine"
    assert answer.to_dict()["packed"]["documents"][0]["doc_id"] in answer.packed.doc_ids


def test_valid_and_invented_citations_are_checked(service, engine_backend):
    text = "Metformin was increased to 1000 mg BID [P0001]; eGFR limit 30 [ref-metformin] per [P0999]."
    service.backend = ScriptedBackend(engine_backend, text)
    answer = _events(service)[-1].answer
    assert answer.text == text and not answer.random_weights and answer.label == ""
    by_id = {c.doc_id: c for c in answer.citations}
    assert by_id["P0001"].valid and by_id["P0001"].spans and by_id["P0001"].title == "Ana Diaz"
    assert text[slice(*by_id["P0001"].marks[0])] == "[P0001]"
    assert by_id["ref-metformin"].valid
    assert answer.invalid_citations == ["P0999"]
    assert all(c.source == "model" for c in answer.citations)


def test_a_cited_document_that_was_dropped_is_invalid(service, engine_backend):
    service.backend = ScriptedBackend(engine_backend, "INR 2.4 [P0002].")
    service.k = 1  # only the best document is packed
    answer = _events(service, "Ana Diaz metformin dose")[-1].answer
    assert answer.packed.doc_ids == ["P0001"]
    assert answer.invalid_citations == ["P0002"]
    assert [c.source for c in answer.citations] == ["model", "retrieval"]  # evidence attached


def test_server_failure_mid_stream_keeps_the_partial_text(service, engine_backend):
    service.backend = ScriptedBackend(engine_backend, "The dose was 1000 mg BID [P0001].", fail_after=3)
    answer = _events(service)[-1].answer
    assert answer.status == "failed" and not answer.ok
    assert answer.text == "The dose was" and "connection" in answer.error
    assert answer.citations and answer.evidence_answer  # the evidence is still there


def test_selected_documents_are_packed_first_and_filters_apply(service):
    packed = _packed(service, "penicillin allergy", doc_ids=["P0002"], params=SHORT)
    assert packed.documents[0].doc_id == "P0002" or packed.documents[-1].doc_id == "P0002"
    assert next(d for d in packed.documents if d.doc_id == "P0002").selected
    only = _packed(service, "warfarin dose", filters=Filters(kind="monograph"), params=SHORT)
    assert set(only.doc_ids) <= {"ref-metformin", "ref-warfarin"} and "ref-warfarin" in only.doc_ids


def test_budget_limits_what_is_packed(service):
    full = _packed(service, params=SHORT)
    small = _packed(service, budget=full.overhead_tokens + 400, params=SHORT)
    assert small.prompt_tokens <= full.overhead_tokens + 400 < full.prompt_tokens
    assert small.dropped and small.budget == full.overhead_tokens + 400 + SHORT.max_tokens


@pytest.mark.parametrize("kwargs, kind, words", [
    (dict(question="   "), "bad_input", "empty"),
    (dict(collection="nope"), "not_found", "unknown collection 'nope'"),
    (dict(doc_ids=["P0001", "P0404"]), "not_found", "P0404"),
    (dict(budget=20), "too_long", ""),
])
def test_bad_input_is_refused_before_generation(service, kwargs, kind, words):
    args = {"question": QUESTION, "collection": "clinic", **kwargs}
    with pytest.raises(QAError) as err:
        list(service.ask(args.pop("question"), args.pop("collection"), params=SHORT, **args))
    assert err.value.kind == kind and words in str(err.value)


def test_prompt_over_the_models_limit_is_refused(service, data_dir, engine_backend, embedder):
    overhead = _packed(service, params=SHORT).overhead_tokens
    cfg = engine_backend.engine.config
    limit = overhead + SHORT.max_tokens + 300  # room for about one document
    p = plan(cfg, "float32", plan(cfg, "float32", 10**12, margin=0).bytes_for(limit), margin=0)
    svc = QAService(data_dir, EngineBackend(engine_backend.engine, plan=p), embedder)
    # The window is the plan's: the packer fits what it can under it, whatever budget is asked for.
    packed = _packed(svc, budget=10**6, params=SHORT)
    assert packed.prompt_tokens + SHORT.max_tokens <= p.max_context and packed.dropped
    with pytest.raises(QAError) as err:
        list(svc.ask(QUESTION, "clinic", params=SamplingParams(max_tokens=p.max_context)))
    assert err.value.kind == "too_long"
    svc.close()


def test_logs_carry_no_question_or_document_text(service, caplog):
    caplog.set_level(logging.DEBUG)
    _events(service, "Was Chloe Martin allergic to penicillin?", params=SamplingParams(max_tokens=2))
    assert caplog.records  # the service did log (ids, counts, timings)
    assert "Chloe" not in caplog.text and "penicillin" not in caplog.text and "urticaria" not in caplog.text
    caplog.clear()
    service.debug = True
    _packed(service, "Was Chloe Martin allergic to penicillin?")
    assert all(r.levelno == logging.DEBUG for r in caplog.records if "Chloe" in r.getMessage())
    assert "Chloe" in caplog.text


def test_the_same_answer_through_the_openai_compatible_server(service, engine_backend):
    local = _events(service, params=SHORT)[-1].answer
    with ServerThread(create_app(engine_backend.engine)) as srv:
        service.backend = OpenAIBackend(srv.url, tokenizer=engine_backend.checkpoint)
        remote = _events(service, params=SHORT)[-1].answer
    assert remote.ok and remote.text == local.text and remote.random_weights
    assert remote.packed.doc_ids == local.packed.doc_ids and remote.model["kind"] == "server"
