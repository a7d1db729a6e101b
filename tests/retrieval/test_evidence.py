from retrieval.evidence import evidence, packed_evidence
from retrieval.pack import pack
from retrieval.types import ChunkHit
from tests.retrieval.corpus import documents
from tests.retrieval.helpers import count_words, make_doc, paragraphs, scored

DOCS = {d.doc_id: d for d in documents()}


def test_evidence_returns_ranked_sentences_with_exact_offsets():
    doc = DOCS["P0002"]
    spans = evidence(doc, "When was warfarin started?", k=3)
    assert spans[0].text == "Warfarin started on 2019-02-01 with a target INR of 2 to 3."
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    for span in spans:
        assert doc.text[span.start:span.end] == span.text and span.doc_id == "P0002"


def test_evidence_uses_retrieval_hits_and_embedder_for_paraphrases(embedder):
    doc = DOCS["P0002"]
    question = "Was the heart rhythm irregular?"
    plain = evidence(doc, question, k=1)
    assert plain == []  # no shared words and no hits: nothing to show rather than noise
    start = doc.text.index("ECG shows")
    hit = ChunkHit(7, start, start + 40, 0.8, "dense")
    assert "atrial fibrillation" in evidence(doc, question, hits=[hit], k=1)[0].text
    semantic = evidence(doc, question, k=1, embedder=embedder)
    assert "atrial fibrillation" in semantic[0].text or "palpitations" in semantic[0].text


def test_evidence_of_a_reduced_document_stays_inside_kept_spans():
    text = paragraphs(50, words=25)
    text = text.replace("Entry 30 notes", "Warfarin started in 2019.\n\nEntry 30 notes")
    sd = scored(make_doc("BIG", text))
    packed = pack([sd], question="warfarin started entry", budget=450, count_tokens=count_words, reserve=0)
    (doc,) = packed.documents
    assert doc.reduced
    spans = packed_evidence(packed, [sd], k=5)["BIG"]
    assert spans and spans[0].text == "Warfarin started in 2019."
    for span in spans:
        assert any(a <= span.start and span.end <= b for a, b in doc.kept)


def test_evidence_of_blank_question_or_empty_document_is_empty():
    assert evidence(DOCS["P0001"], "  ") == []
    assert evidence(make_doc("E", ""), "metformin") == []
