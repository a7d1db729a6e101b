import re

import pytest

from retrieval.errors import EmptyQuestion, QuestionTooLong
from retrieval.pack import CachedCounter, arrange, pack
from retrieval.prompt import SYSTEM_PROMPT
from retrieval.sections import split_units
from retrieval.types import ChunkHit
from tests.retrieval.helpers import count_words, make_doc, paragraphs, scored

QUESTION = "When was warfarin started?"


def small_docs(n=5, words=100):
    return [scored(make_doc(f"D{i}", paragraphs(words // 20)), score=10.0 - i) for i in range(1, n + 1)]


def test_everything_fits_whole_and_counts_add_up():
    ranked = small_docs(3)
    packed = pack(ranked, question=QUESTION, budget=5000, count_tokens=count_words, reserve=500)
    assert [d.whole for d in packed.documents] == [True] * 3
    assert sorted(packed.doc_ids) == ["D1", "D2", "D3"]
    assert packed.dropped == ()
    assert packed.prompt_tokens == packed.overhead_tokens + packed.document_tokens
    assert packed.prompt_tokens <= packed.budget - packed.reserve
    for d in packed.documents:
        assert d.text == ranked[int(d.doc_id[1:]) - 1].document.text  # whole means verbatim


def test_default_order_puts_strongest_at_both_edges():
    packed = pack(small_docs(5), question=QUESTION, budget=5000, count_tokens=count_words, reserve=0)
    assert packed.doc_ids == ["D1", "D3", "D5", "D4", "D2"]
    assert [d.doc_id for d in arrange(packed.documents, "rank")] == ["D1", "D2", "D3", "D4", "D5"]
    assert [d.doc_id for d in arrange(packed.documents, "reverse")] == ["D5", "D4", "D3", "D2", "D1"]


def test_chronological_order_uses_first_dates():
    docs = [scored(make_doc("A", "alpha text.", first_date="2020-05-01"), 3),
            scored(make_doc("B", "beta text.", first_date="2018-01-01"), 2),
            scored(make_doc("C", "gamma text."), 1)]
    packed = pack(docs, question=QUESTION, budget=2000, count_tokens=count_words, order="chronological")
    assert packed.doc_ids == ["B", "A", "C"]


def test_messages_wrap_documents_and_put_question_last():
    doc = make_doc("P0007", "Warfarin started 2019-02-01.", title="Jane Roe", kind="patient_history",
                   patient_id="P0007", first_date="2010-01-01", last_date="2020-01-01")
    packed = pack([scored(doc)], question=QUESTION, budget=2000, count_tokens=count_words)
    system, user = packed.messages
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "[doc_id]" in system["content"] and "not documented" in system["content"]
    content = user["content"]
    assert '<document id="P0007" title="Jane Roe" kind="patient_history" dates="2010-01-01 to 2020-01-01">' \
        in content
    assert content.index("</document>") < content.index(QUESTION)


def test_budget_fills_in_rank_order_and_reports_drops():
    ranked = small_docs(5, words=200)  # each wrapped document is ~210 words
    packed = pack(ranked, question=QUESTION, budget=900, count_tokens=count_words, reserve=100,
                  min_reduced_tokens=10_000)
    assert sorted(packed.doc_ids) == ["D1", "D2", "D3"]
    assert [d.doc_id for d in packed.dropped] == ["D4", "D5"]
    assert all("tokens" in d.reason and "left" in d.reason for d in packed.dropped)
    assert packed.prompt_tokens <= 800
    assert len(packed.notes) == 2


def test_selected_documents_are_packed_first():
    ranked = small_docs(4, words=200)
    chosen = scored(make_doc("PICK", paragraphs(10)), score=0.0, selected=True)
    packed = pack([chosen, *ranked], question=QUESTION, budget=800, count_tokens=count_words, reserve=0,
                  min_reduced_tokens=10_000)
    assert packed.documents[0].doc_id == "PICK" and packed.documents[0].selected


def test_large_document_is_reduced_to_relevant_sections_with_marks():
    text = paragraphs(60, words=30)
    relevant = "Warfarin was started on 2019-02-01 for atrial fibrillation."
    text = text.replace("Entry 41 notes", relevant + "\n\nEntry 41 notes")
    doc = make_doc("BIG", text)
    packed = pack([scored(doc)], question=QUESTION, budget=600, count_tokens=count_words, reserve=100)
    (d,) = packed.documents
    assert d.reduced and not d.whole
    assert relevant in d.text
    assert re.search(r"\[\.\.\. \d+ paragraphs \(~[\d,]+ tokens\) omitted \.\.\.\]", d.text)
    assert "omitted" in d.note and "BIG" in packed.notes[0]
    assert 'excerpt="true"' in packed.messages[1]["content"]
    assert d.n_tokens <= 500 - packed.overhead_tokens
    # Kept spans are whole units of the original, in original order, and the text holds them verbatim.
    bounds = {(u.start, u.end) for u in split_units(text)}
    starts = {a for a, _ in bounds}
    ends = {b for _, b in bounds}
    assert list(d.kept) == sorted(d.kept)
    for a, b in d.kept:
        assert a in starts and b in ends
        assert text[a:b] in d.text


def test_reduction_prefers_sections_under_retrieval_hits():
    text = paragraphs(40, words=30)
    target = text.index("Entry 33 notes")
    hit = ChunkHit(chunk_id=1, start=target, end=target + 40, score=0.9, source="dense")
    packed = pack([scored(make_doc("BIG", text), hits=(hit,))], question="anticoagulation history",
                  budget=400, count_tokens=count_words, reserve=0)
    assert "Entry 33 notes" in packed.documents[0].text


def test_budget_smaller_than_any_document_is_well_defined():
    ranked = small_docs(3, words=400)
    packed = pack(ranked, question=QUESTION, budget=500, count_tokens=count_words, reserve=0)
    assert [d.doc_id for d in packed.documents] == ["D1"] and packed.documents[0].reduced
    assert [d.doc_id for d in packed.dropped] == ["D2", "D3"]
    tiny = pack(ranked, question=QUESTION, budget=250, count_tokens=count_words, reserve=0)
    assert tiny.documents == () and len(tiny.dropped) == 3
    assert tiny.messages[1]["content"].startswith("No documents matched")


def test_bad_questions_raise_clear_errors():
    with pytest.raises(EmptyQuestion):
        pack(small_docs(1), question="   ", budget=1000, count_tokens=count_words)
    with pytest.raises(QuestionTooLong, match="budget leaves only"):
        pack(small_docs(1), question="why " * 2000, budget=1000, count_tokens=count_words)


def test_exact_count_messages_keeps_the_final_prompt_in_budget():
    def count_messages(messages):
        # A chat template that costs 40 tokens per message, and a tokenizer that spends 30 more tokens on
        # each document tag than counting the pieces suggests: the first plan overshoots and is redone.
        text = " ".join(m["content"] for m in messages)
        return count_words(text) + 40 * len(messages) + 30 * text.count("<document ")

    ranked = small_docs(5, words=200)
    packed = pack(ranked, question=QUESTION, budget=1000, count_tokens=count_words, reserve=100,
                  count_messages=count_messages, min_reduced_tokens=50)
    assert packed.counting == "exact"
    assert packed.prompt_tokens == count_messages(list(packed.messages)) <= 900
    loose = pack(ranked, question=QUESTION, budget=1000, count_tokens=count_words, reserve=100,
                 min_reduced_tokens=50)
    assert loose.counting == "estimate"
    assert loose.overhead_tokens < packed.overhead_tokens
    assert loose.document_tokens > packed.document_tokens


def test_duplicate_documents_are_packed_once():
    (one,) = small_docs(1)
    packed = pack([one, one], question=QUESTION, budget=5000, count_tokens=count_words)
    assert packed.doc_ids == ["D1"]


def test_stored_counts_skip_retokenizing_whole_documents():
    seen: list[int] = []

    def counting(text):
        seen.append(len(text))
        return count_words(text)

    ranked = small_docs(3, words=200)
    exact = pack(ranked, question=QUESTION, budget=5000, count_tokens=count_words)
    stored = pack(ranked, question=QUESTION, budget=5000, count_tokens=counting, stored_counts=True)
    assert stored.doc_ids == exact.doc_ids
    longest_body = min(len(sd.document.text) for sd in ranked)
    assert max(seen) < longest_body  # only wrappers, the system prompt and the question were counted
    for s, e in zip(stored.documents, exact.documents, strict=True):
        assert e.n_tokens <= s.n_tokens <= e.n_tokens + 2  # the documented margin


def test_cached_counter_remembers_long_texts_only():
    calls: list[str] = []

    def counting(text):
        calls.append(text)
        return count_words(text)

    counter = CachedCounter(counting, max_entries=2, min_chars=50)
    long_a, long_b, long_c = ("a " * 100), ("b " * 100), ("c " * 100)
    assert counter(long_a) == 100 and counter(long_a) == 100
    assert counter("short text") == 2 and counter("short text") == 2
    assert calls.count(long_a) == 1 and calls.count("short text") == 2
    counter(long_b)
    counter(long_c)  # evicts long_a, the least recently used
    counter(long_a)
    assert calls.count(long_a) == 2
