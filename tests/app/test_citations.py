"""Citation parsing and checking: what the UI flags and links."""

from app.citations import build_citations, check_citations, evidence_answer, parse_citations, top_evidence
from retrieval.types import EvidenceSpan, PackedContext, PackedDocument


def _packed(*ids: str) -> PackedContext:
    docs = tuple(PackedDocument(doc_id=i, title=f"Title {i}", metadata={}, text="", n_tokens=10,
                                original_tokens=10, score=1.0, rank=r + 1) for r, i in enumerate(ids))
    return PackedContext(question="q", documents=docs, dropped=(), budget=100, reserve=10, prompt_tokens=50,
                         overhead_tokens=5, order="rank", counting="exact")


def test_parses_single_grouped_and_prefixed_ids_in_order():
    text = "HbA1c 7.9% [P0007]. Metformin [P0007, ref-metformin]; dose [doc_id: P0012] and [P0003;P0004]."
    ids = [m.doc_id for m in parse_citations(text)]
    assert ids == ["P0007", "P0007", "ref-metformin", "P0012", "P0003", "P0004"]
    first = parse_citations(text)[0]
    assert text[first.start:first.end] == "[P0007]"


def test_links_elisions_and_empty_brackets_are_not_citations():
    text = "See [the guideline](http://x.org) and [... 3 paragraphs omitted ...] or [] or [ ]."
    assert parse_citations(text) == []


def test_check_splits_valid_and_invented_ids():
    marks = parse_citations("a [P0001] b [P0999] c [P0001] d [ref-x]")
    valid, invalid = check_citations(marks, ["P0001", "ref-x"])
    assert valid == ["P0001", "ref-x"]
    assert invalid == ["P0999"]


def test_build_citations_flags_invalid_and_attaches_spans():
    packed = _packed("P0001", "P0002")
    span = EvidenceSpan("P0001", 10, 30, "metformin 500 mg BID", 0.9)
    cites = build_citations("Dose 500 mg [P0001]; also [P0404].", packed, {"P0001": (span,)}, [span])
    by_id = {c.doc_id: c for c in cites}
    assert by_id["P0001"].valid and by_id["P0001"].spans == (span,) and by_id["P0001"].title == "Title P0001"
    assert by_id["P0001"].source == "model"
    assert not by_id["P0404"].valid
    assert len(cites) == 2  # one valid citation: no retrieval evidence attached


def test_answer_without_valid_citations_gets_retrieval_evidence():
    packed = _packed("P0001", "P0002")
    s1 = EvidenceSpan("P0002", 0, 5, "eGFR 28", 0.8)
    s2 = EvidenceSpan("P0001", 0, 5, "eGFR 45", 0.5)
    spans = {"P0001": (s2,), "P0002": (s1,)}
    best = top_evidence(spans, ranks={"P0002": 1, "P0001": 2})
    assert best == (s1, s2)
    cites = build_citations("The eGFR fell [P9999].", packed, spans, best)
    assert [(c.doc_id, c.valid, c.source) for c in cites] == [
        ("P9999", False, "model"), ("P0002", True, "retrieval"), ("P0001", True, "retrieval")]


def test_evidence_answer_cites_each_passage():
    packed = _packed("P0001")
    s = EvidenceSpan("P0001", 0, 20, "Started   metformin\n500 mg", 0.7)
    text = evidence_answer([s], packed)
    assert '[P0001] (Title P0001): "Started metformin 500 mg"' in text
    assert [m.doc_id for m in parse_citations(text)] == ["P0001"]
    assert "No documents matched" in evidence_answer([], _packed())


def test_top_evidence_lets_the_best_document_lead_whatever_the_raw_scores():
    top = [EvidenceSpan("P0001", i, i + 1, f"p1-{i}", 0.3 - i / 100) for i in range(3)]
    other = [EvidenceSpan("P0002", 0, 1, "common phrase", 0.9), EvidenceSpan("P0002", 1, 2, "x", 0.1)]
    best = top_evidence({"P0002": tuple(other), "P0001": tuple(top)}, n=4, ranks={"P0001": 1, "P0002": 2})
    # P0001's best span first; then its second span and P0002's best (both at key 2) by score.
    assert [s.text for s in best] == ["p1-0", "common phrase", "p1-1", "p1-2"]
