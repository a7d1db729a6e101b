"""Document fields as a ranker: a question that names a document's subject points at that document.

"What was Boris Alvarez's potassium in June 2022?" names the patient; chunk rankers see the name only
in the few chunks that repeat it (a history's header), and a dense chunk vector barely encodes it, so
another patient's potassium result can outrank the right record. This ranker scores each document's
identifying fields (title, id, patient id and name) with BM25 against the question, using only terms
that identify few documents (in at most ``MAX_SHARE`` of them): "Medical history: ..." in every title
says nothing. It returns only documents with a match, so a question that names nobody leaves the other
rankers alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from retrieval.bm25 import BM25Index
from retrieval.fusion import Candidate

MAX_SHARE = 0.1  # a term in more than 10% of documents' fields does not identify one
FIELD_KEYS = ("patient_id", "name", "mrn")


def field_text(doc_id: str, title: str, metadata: dict) -> str:
    values = [title, doc_id] + [str(metadata[k]) for k in FIELD_KEYS if metadata.get(k)]
    return " ".join(values)


class FieldIndex:
    """BM25 over identifying fields, one row per document."""

    def __init__(self, summaries: Iterable):
        rows = [(s.doc_id, field_text(s.doc_id, s.title, s.metadata)) for s in summaries]
        self.doc_ids = [doc_id for doc_id, _ in rows]
        self.bm25 = BM25Index.build(text for _, text in rows)
        df = np.diff(self.bm25.weights.indptr)
        limit = max(2.0, MAX_SHARE * len(rows))
        self.common = frozenset(t for t, col in self.bm25.vocab.items() if df[col] > limit)

    def search(self, question: str, k: int, allowed: set[str] | None = None) -> list[Candidate]:
        scores = self.bm25.scores(question, ignore=self.common)
        out = []
        for row in np.argsort(-scores, kind="stable"):
            if scores[row] <= 0 or len(out) >= k:
                break
            doc_id = self.doc_ids[row]
            if allowed is None or doc_id in allowed:
                out.append(Candidate(doc_id, float(scores[row])))
        for rank, cand in enumerate(out, start=1):
            cand.ranks["fields"] = rank
        return out
