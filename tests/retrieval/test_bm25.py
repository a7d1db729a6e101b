import numpy as np

from retrieval.bm25 import BM25Index
from retrieval.terms import terms


def test_terms_keep_ids_codes_labs_and_values():
    found = terms("Patient P0007: HbA1c 7.9% on 2021-03-04, dx E11.9; ref-metformin")
    for term in ("p0007", "hba1c", "7.9%", "7.9", "2021-03-04", "e11.9", "ref-metformin", "metformin"):
        assert term in found
    assert "the" not in terms("the patient")
    assert terms("Seizures") == terms("seizure")


PASSAGES = [
    "Type 2 diabetes mellitus, code E11.9, started metformin 500 mg twice daily.",
    "Hypertension managed with lisinopril 10 mg; blood pressure 128/82.",
    "Annual review: diabetes stable, HbA1c 7.9% in March.",
    "Fractured left wrist after a fall; cast applied.",
]


def test_bm25_ranks_exact_code_and_rare_terms_first():
    index = BM25Index.build(PASSAGES)
    assert index.top("which patient has E11.9", k=2)[0][0] == 0
    assert index.top("HbA1c value", k=1)[0][0] == 2
    assert index.top("lisinopril dose", k=1)[0][0] == 1
    # Only passages that share a term appear, best first.
    hits = index.top("diabetes", k=10)
    assert [row for row, _ in hits] in ([0, 2], [2, 0])
    assert all(s > 0 for _, s in hits)
    assert index.top("unrelated zebra words", k=5) == []


def test_bm25_allowed_mask_excludes_rows():
    index = BM25Index.build(PASSAGES)
    mask = np.array([False, True, True, True])
    rows = [row for row, _ in index.top("diabetes metformin", k=4, allowed=mask)]
    assert 0 not in rows and rows == [2]


def test_bm25_save_and_load_round_trip(tmp_path):
    index = BM25Index.build(PASSAGES)
    path = tmp_path / "bm25.npz"
    index.save(path, extra={"ids": np.arange(4)})
    loaded, extra = BM25Index.load(path)
    assert np.allclose(loaded.scores("diabetes HbA1c"), index.scores("diabetes HbA1c"))
    assert extra["ids"].tolist() == [0, 1, 2, 3]
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind
    assert BM25Index.load(tmp_path / "missing.npz") is None
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    assert BM25Index.load(tmp_path / "broken.npz") is None


def test_bm25_empty_corpus_scores_nothing():
    index = BM25Index.build([])
    assert index.top("anything", k=3) == []
