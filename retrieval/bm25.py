"""BM25 (Okapi) over a list of passages, as one sparse matrix.

The index stores, for every (passage, term) pair, the saturated and length-normalized term frequency

    w = tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))

so a query is one sparse column slice times a vector of IDFs: ``scores = W[:, q] @ idf[q]``. Building is
linear in the text; a query touches only the postings of its own terms. IDF is the Lucene form
``log(1 + (N - df + 0.5) / (df + 0.5))``, which is never negative, so common terms cannot push a passage
below one that lacks them.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from retrieval.terms import terms

K1 = 1.2  # term-frequency saturation: the usual Okapi value
B = 0.75  # length normalization: the usual Okapi value
FORMAT = 1  # bumped when the saved layout changes; a saved index of another format is rebuilt


class BM25Index:
    """BM25 scores of passages for a query. Build with :meth:`build`; query with :meth:`scores`."""

    def __init__(self, weights: sp.csc_matrix, idf: np.ndarray, vocab: dict[str, int]):
        self.weights = weights  # (n_passages, n_terms), CSC so a query slices columns
        self.idf = idf
        self.vocab = vocab

    @property
    def n_passages(self) -> int:
        return self.weights.shape[0]

    @classmethod
    def build(cls, texts: Iterable[str], k1: float = K1, b: float = B) -> BM25Index:
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lengths: list[int] = []
        for row, text in enumerate(texts):
            counts = Counter(terms(text))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                rows.append(row)
                cols.append(vocab.setdefault(term, len(vocab)))
                tfs.append(tf)
        n = len(lengths)
        length = np.asarray(lengths, dtype=np.float32)
        avg = float(length.mean()) if n and length.sum() else 1.0
        row_idx = np.asarray(rows, dtype=np.int64)
        tf = np.asarray(tfs, dtype=np.float32)
        norm = k1 * (1.0 - b + b * length[row_idx] / avg)
        weight = tf * (k1 + 1.0) / (tf + norm)
        matrix = sp.csc_matrix((weight, (row_idx, np.asarray(cols, dtype=np.int64))), shape=(n, len(vocab)))
        df = np.diff(matrix.indptr).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        return cls(matrix, idf, vocab)

    def scores(self, query: str, ignore: frozenset[str] = frozenset()) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros when no query term is in the index).

        ``ignore`` drops query terms that do not discriminate in this context (a patient's own name
        inside that patient's record).
        """
        counts = Counter(t for t in terms(query) if t in self.vocab and t not in ignore)
        if not counts:
            return np.zeros(self.n_passages, dtype=np.float32)
        cols = np.fromiter((self.vocab[t] for t in counts), dtype=np.int64, count=len(counts))
        qweights = self.idf[cols] * np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        return np.asarray(self.weights[:, cols] @ qweights, dtype=np.float32).ravel()

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best (passage row, score) pairs with a positive score, best first.

        ``allowed`` is an optional boolean mask over passages; rows outside it never appear.
        """
        scores = self.scores(query)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [(int(i), float(scores[i])) for i in order]

    def save(self, path: Path, extra: dict[str, np.ndarray] | None = None) -> None:
        """Write the index (and ``extra`` arrays) to ``path`` atomically: temp file, fsync, rename."""
        path = Path(path)
        arrays = {
            "format": np.asarray(FORMAT),
            "data": self.weights.data,
            "indices": self.weights.indices,
            "indptr": self.weights.indptr,
            "shape": np.asarray(self.weights.shape),
            "idf": self.idf,
            "vocab": np.asarray(sorted(self.vocab, key=self.vocab.__getitem__), dtype=str),
        }
        arrays.update({f"extra_{k}": v for k, v in (extra or {}).items()})
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> tuple[BM25Index, dict[str, np.ndarray]] | None:
        """Read an index written by :meth:`save`; None when the file is missing or of another format."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["format"]) != FORMAT:
                    return None
                shape = tuple(int(x) for x in z["shape"])
                matrix = sp.csc_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
                vocab = {str(t): i for i, t in enumerate(z["vocab"])}
                extra = {k[len("extra_"):]: z[k] for k in z.files if k.startswith("extra_")}
                return cls(matrix, z["idf"], vocab), extra
        except (OSError, KeyError, ValueError):
            return None
