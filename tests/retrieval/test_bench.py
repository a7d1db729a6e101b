from retrieval.bench import format_rows, run
from tests.retrieval.helpers import count_words


def test_bench_measures_exact_sqlite_and_ivf_rows(embedder, tmp_path):
    rows = run([4000], embedder, count_words, queries=4, k=5, budget=20_000, real_store_dir=tmp_path,
               approx_from=4000, nlist=16, sqlite_at=4000)
    kinds = [(r.index, r.store) for r in rows]
    assert kinds[:2] == [("flat (exact)", "memory"), ("flat (exact)", "sqlite")]
    assert [k for k, _ in kinds[2:]] == [f"ivf16 nprobe={n}" for n in (8, 16, 32, 64)]
    for r in rows:
        assert 0 < r.p50 <= r.p95 and 0 < r.recount_p50 <= r.recount_p95 and r.embed_p50 > 0
    assert rows[0].recall10 is None
    assert 0 < rows[2].recall10 <= 1.0
    assert rows[3].recall10 == 1.0  # probing every list is exact search
    table = format_rows(rows)
    assert "ivf16 nprobe=8" in table and "sqlite" in table
