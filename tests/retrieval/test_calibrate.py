import math

import numpy as np
import pytest

from retrieval.calibrate import Scale, correct, expected_max
from retrieval.fusion import Candidate


def test_expected_max_is_the_largest_normal_order_statistic():
    assert expected_max(1) == 0.0 and expected_max(0) == 0.0
    assert expected_max(2) == pytest.approx(1 / math.sqrt(math.pi), abs=0.03)  # exact: 0.564
    assert expected_max(10) == pytest.approx(1.539, abs=0.01)  # tabulated expected maximum of 10 normals
    assert expected_max(1000) == pytest.approx(3.241, abs=0.02)
    assert expected_max(1000) < math.sqrt(2 * math.log(1000))  # the asymptote overshoots


def test_best_of_n_scores_of_random_chunks_match_the_correction():
    """The rule's premise, checked by simulation: the best of n noise similarities rises like sqrt(2 ln n)."""
    rng = np.random.default_rng(0)
    query = rng.standard_normal(64).astype(np.float32)
    query /= np.linalg.norm(query)
    chunks = rng.standard_normal((20_000, 64)).astype(np.float32)
    chunks /= np.linalg.norm(chunks, axis=1, keepdims=True)
    sims = chunks @ query
    mean, sd = Scale(chunks[:4096]).moments(query)
    for n in (10, 1000):
        best = np.mean([(sims[i:i + n].max() - mean) / sd for i in range(0, 10_000, n)])
        assert best == pytest.approx(expected_max(n), rel=0.1)


def test_a_long_document_no_longer_wins_on_length_alone():
    # Equal best-chunk similarity: the monograph (5 chunks) now ranks above the history (1,000 chunks).
    cands = [Candidate("history", 0.60, ranks={"dense": 1}), Candidate("monograph", 0.60, ranks={"dense": 2})]
    out = correct(cands, {"history": 1000, "monograph": 5}, (0.30, 0.05))
    assert [c.doc_id for c in out] == ["monograph", "history"]
    assert out[0].ranks["dense"] == 1 and out[0].score == pytest.approx(6.0 - expected_max(5))
    # A clearly better chunk still wins however long its document is.
    cands = [Candidate("history", 0.75), Candidate("monograph", 0.60)]
    assert correct(cands, {"history": 1000, "monograph": 5}, (0.30, 0.05))[0].doc_id == "history"


def test_without_a_scale_nothing_changes():
    cands = [Candidate("a", 0.9), Candidate("b", 0.8)]
    assert [c.score for c in correct(cands, {"a": 100}, None)] == [0.9, 0.8]
    assert Scale(np.zeros((1, 8), dtype=np.float32)).moments(np.ones(8)) is None
