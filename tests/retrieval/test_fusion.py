import pytest

from retrieval.fusion import Candidate, Ranking, rrf, zfuse
from retrieval.types import ChunkHit


def _ranking(scores: dict[str, float], source: str, floor: float | None = None) -> Ranking:
    cands = []
    for rank, (doc_id, score) in enumerate(sorted(scores.items(), key=lambda kv: -kv[1]), start=1):
        cands.append(Candidate(doc_id, score, [ChunkHit(rank, 0, 1, score, source)], {source: rank}))
    return Ranking(cands, floor)


# Twenty records. A lexical ranker that is sure (two documents hold the rare term and score far above
# the rest) and a dense ranker that is not (similarities nearly flat, its favourites wrong).
OTHERS = [f"x{i:02d}" for i in range(18)]
LEXICAL = {"gold1": 25.0, "gold2": 24.0} | {x: 6.0 - 0.05 * i for i, x in enumerate(OTHERS)}
DENSE = {x: 0.62 - 0.004 * i for i, x in enumerate(OTHERS)} | {"gold1": 0.585, "gold2": 0.575}


def test_a_confident_ranker_outweighs_an_unsure_one_where_rank_fusion_does_not():
    dense, lexical = _ranking(DENSE, "dense"), _ranking(LEXICAL, "bm25")
    fused = [c.doc_id for c in zfuse([dense, lexical], population=20)]
    assert fused[:2] == ["gold1", "gold2"]
    by_rank = [c.doc_id for c in rrf([dense.candidates, lexical.candidates])]
    assert by_rank[:2] != ["gold1", "gold2"]  # rank fusion gives both rank-1 votes the same weight


def test_agreeing_rankers_add_up_and_ranks_and_hits_are_merged():
    dense = _ranking({"a": 0.9, "b": 0.5, "c": 0.4}, "dense")
    fused = zfuse([dense, _ranking({"a": 9.0, "c": 3.0}, "bm25")], 3)
    top = fused[0]
    assert top.doc_id == "a" and top.ranks == {"dense": 1, "bm25": 1}
    assert [h.source for h in top.hits] == ["dense", "bm25"]


def test_an_unlisted_document_takes_the_floor_and_a_flat_ranker_has_no_vote():
    fields = _ranking({"named": 7.0}, "fields", floor=0.0)  # one match in a collection of five
    dense = _ranking({"other": 0.8, "named": 0.6, "third": 0.5}, "dense")
    fused = zfuse([dense, fields], population=5)
    assert fused[0].doc_id == "named"
    flat = _ranking({"a": 1.0, "b": 1.0}, "bm25")
    alone = zfuse([flat, _ranking({"b": 0.9, "a": 0.1}, "dense")], population=2)
    assert [c.doc_id for c in alone] == ["b", "a"]
    assert [c.doc_id for c in zfuse([flat], population=2)] == ["a", "b"]  # candidates, in id order
    assert [c.doc_id for c in zfuse([_ranking({"only": 3.0}, "bm25")], population=1)] == ["only"]


@pytest.mark.parametrize("population", [0, 3, 100])
def test_fusion_is_deterministic_and_ties_break_by_id(population):
    rankings = [_ranking({"b": 1.0, "a": 1.0, "c": 0.0}, "dense")]
    assert [c.doc_id for c in zfuse(rankings, population)] == ["a", "b", "c"]
