from ingest.store import DocumentSummary
from retrieval.fields import FieldIndex


def summary(doc_id, title, **metadata):
    return DocumentSummary(doc_id, title, metadata, 100, "")


NAMES = ["Ana Diaz", "Ben Okafor", "Chloe Martin", "Dev Patel", "Eve Diaz"]
DOCS = [summary(f"P{i:04d}", f"Medical history: {name}", patient_id=f"P{i:04d}", name=name)
        for i, name in enumerate(NAMES, start=1)]
DOCS += [summary("ref-warfarin", "Warfarin monograph"), summary("ref-metformin", "Metformin monograph")]


def test_fields_rank_the_named_subject_first():
    index = FieldIndex(DOCS)
    assert [c.doc_id for c in index.search("What was Ben Okafor's INR in 2023?", k=5)] == ["P0002"]
    assert [c.doc_id for c in index.search("Notes for P0004?", k=5)] == ["P0004"]
    assert index.search("What is the usual warfarin dose?", k=5)[0].doc_id == "ref-warfarin"
    # A shared surname matches both patients; the full name puts the right one first.
    assert [c.doc_id for c in index.search("Eve Diaz allergies", k=5)][:2] == ["P0005", "P0001"]


def test_fields_ignore_words_every_title_shares_and_honour_filters():
    index = FieldIndex(DOCS)
    assert index.search("Summarize the medical history", k=5) == []  # names nobody
    assert index.search("Ben Okafor", k=5, allowed={"P0001"}) == []
    (hit,) = index.search("Ben Okafor", k=5)
    assert hit.ranks == {"fields": 1}
