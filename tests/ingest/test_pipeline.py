"""The ingestion pipeline end to end: real files, the real MiniLM, a real store in tmp_path."""

from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import ChunkConfig
from ingest.embed import cached_embedder
from ingest.errors import EmbeddingMismatch
from ingest.pipeline import add
from ingest.readers import ReadOptions
from ingest.store import CollectionStore, verify
from ingest.tokens import APPROX_NAME

TINY_JAMBA = Path(__file__).resolve().parents[2] / "data" / "tiny-jamba"


@pytest.fixture(scope="module")
def embedder():
    return cached_embedder()


def _note(folder: Path, name: str, doc_id: str, body: str, title: str = "Note", patient: str | None = None):
    front = f"---\ndoc_id: {doc_id}\ntitle: {title}\nkind: note\n"
    if patient:
        front += f"patient_id: {patient}\n"
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(front + "---\n" + body)
    return path


def _corpus(folder: Path, long_doc: bool = False) -> Path:
    """Six short notes and a text file; ``long_doc`` makes N0 span several chunks."""
    for i in range(6):
        n_visits = 40 if long_doc and i == 0 else 2
        visits = " ".join(f"Visit {v}: blood pressure {120 + v}/{80 + i} mmHg, metformin continued."
                          for v in range(n_visits))
        _note(folder, f"notes/n{i}.md", f"N{i}", f"# Patient {i}\n\n{visits}\n")
    (folder / "readme.txt").write_text("Plain text about asthma inhalers and spacer technique.\n")
    return folder


def _add(tmp_path, src, embedder, **kw):
    return add(tmp_path / "data", "c", [src], embedder=embedder, tokenizer=APPROX_NAME, **kw)


def _snapshot(tmp_path):
    with CollectionStore.open(tmp_path / "data", "c") as store:
        return {c.chunk_id: (c.doc_id, c.text) for c in store.iter_chunks()}, store.info


def test_first_ingest_then_rerun_changes_nothing_and_embeds_nothing(tmp_path, embedder):
    src = _corpus(tmp_path / "src", long_doc=True)
    first = _add(tmp_path, src, embedder)
    assert sorted(first.added) == ["N0", "N1", "N2", "N3", "N4", "N5", "readme.txt"]
    assert first.ok and first.chunks_embedded > 7 and not first.updated
    chunks, info = _snapshot(tmp_path)
    with CollectionStore.open(tmp_path / "data", "c") as store:
        for doc in store.list_documents():
            text = store.get_document(doc.doc_id).text
            mine = [c for c in store.iter_chunks() if c.doc_id == doc.doc_id]
            assert mine and all(c.text == text[c.start : c.end] for c in mine)
            assert all(len(embedder.token_starts(c.text)) <= info.chunking.max_tokens for c in mine)
            assert doc.n_tokens == -(-len(text) // 4)  # the approximation asked for
        assert info.tokens_approximate and info.tokenizer == APPROX_NAME
        hit = store.search(embedder.encode(["spacer technique for asthma inhalers"]), k=1)[0][0]
        assert store.get_chunks([hit[0]])[0].doc_id == "readme.txt"

    again = _add(tmp_path, src, embedder)
    assert (again.unchanged, again.chunks_embedded, again.added, again.updated) == (7, 0, [], [])
    chunks2, info2 = _snapshot(tmp_path)
    assert chunks2 == chunks and info2.generation == info.generation
    assert verify(tmp_path / "data", "c").clean


@pytest.mark.parametrize("context", ["headings", "none"])
def test_changed_file_replaces_its_document_and_a_title_change_re_embeds_only_with_context(
        tmp_path, embedder, context):
    src = _corpus(tmp_path / "src")
    _add(tmp_path, src, embedder, chunking=ChunkConfig(context=context))
    before, info = _snapshot(tmp_path)
    assert info.chunking.context == context
    new_text = "# Patient 2\n\nNew finding: atrial fibrillation on ECG."
    _note(src, "notes/n2.md", "N2", new_text + "\n")
    report = _add(tmp_path, src, embedder)
    assert report.updated == ["N2"] and report.unchanged == 6 and report.chunks_embedded == 1
    after, _ = _snapshot(tmp_path)
    old_n2 = {cid for cid, (d, _) in before.items() if d == "N2"}
    assert not old_n2 & set(after)
    assert [t for d, t in after.values() if d == "N2"] == [new_text]

    # The title is part of each chunk's vector under a context line, so a new title re-embeds; without
    # one the vectors depend on the text alone and are kept.
    _note(src, "notes/n2.md", "N2", new_text + "\n", title="Renamed")
    report = _add(tmp_path, src, embedder)
    assert report.updated == ["N2"] and report.chunks_embedded == (1 if context != "none" else 0)
    final, _ = _snapshot(tmp_path)
    assert (final == after) == (context == "none")
    assert sorted(t for d, t in final.values() if d == "N2") == [new_text]
    with CollectionStore.open(tmp_path / "data", "c") as store:
        assert store.get_document("N2").title == "Renamed"


def test_chunk_vectors_carry_the_title_and_headings(tmp_path, embedder):
    """A passage that never names its patient is found by a question that does."""
    src = tmp_path / "src"
    for i, name in enumerate(("Ada Moreau", "Bela Tanaka", "Cyrus Okafor")):
        body = f"# Visits\n\n## 2021-03-0{i + 1} Clinic\n\nPotassium {4 + i}.1 mmol/L.\n"
        _note(src, f"n{i}.md", f"P{i}", body, title=f"\"Medical history: {name}\"")
    _add(tmp_path, src, embedder)
    with CollectionStore.open(tmp_path / "data", "c") as store:
        vector = embedder.encode(["Bela Tanaka potassium result"])
        hit = store.search(vector, k=1)[0][0]
        assert store.get_chunks([hit[0]])[0].doc_id == "P1"


def test_bad_files_are_reported_and_the_rest_is_ingested(tmp_path, embedder):
    src = _corpus(tmp_path / "src")
    (src / "broken.md").write_bytes(b"\x00\x01binary garbage")
    report = _add(tmp_path, src, embedder)
    assert not report.ok and len(report.added) == 7
    [failure] = report.failed
    assert failure.path.endswith("broken.md") and "binary" in failure.reason


def test_prune_removes_documents_whose_files_are_gone_but_keeps_unreadable_ones(tmp_path, embedder):
    src = _corpus(tmp_path / "src")
    _add(tmp_path, src, embedder)
    (src / "notes" / "n0.md").unlink()
    (src / "notes" / "n1.md").write_bytes(b"\x00 now unreadable")
    kept = _add(tmp_path, src, embedder)
    assert kept.removed == []  # without --prune nothing is deleted
    pruned = _add(tmp_path, src, embedder, prune=True)
    assert pruned.removed == ["N0"]
    with CollectionStore.open(tmp_path / "data", "c") as store:
        ids = [d.doc_id for d in store.list_documents()]
        assert "N0" not in ids and "N1" in ids  # a read failure never deletes data
        assert all(c.doc_id != "N0" for c in store.iter_chunks())
    assert verify(tmp_path / "data", "c").clean


def test_prune_leaves_documents_from_other_paths_alone(tmp_path, embedder):
    a = _corpus(tmp_path / "a")
    b = tmp_path / "b"
    _note(b, "x.md", "X", "Only in folder b. Warfarin 5 mg daily.\n")
    _add(tmp_path, a, embedder)
    _add(tmp_path, b, embedder, prune=True)
    with CollectionStore.open(tmp_path / "data", "c") as store:
        assert len(store.list_documents()) == 8


def test_one_id_from_two_files_is_merged_not_overwritten(tmp_path, embedder):
    a, b = tmp_path / "a", tmp_path / "b"
    _note(a, "p.md", "P1", "Part from clinic A: penicillin allergy (hives).\n")
    _note(b, "p.md", "P1", "Part from clinic B: lisinopril 10 mg started.\n")
    report = add(tmp_path / "data", "c", [a, b], embedder=embedder, tokenizer=APPROX_NAME)
    assert report.added == ["P1"] and not report.updated
    with CollectionStore.open(tmp_path / "data", "c") as store:
        text = store.get_document("P1").text
        assert "penicillin" in text and "lisinopril" in text
    again = add(tmp_path / "data", "c", [a, b], embedder=embedder, tokenizer=APPROX_NAME)
    assert again.unchanged == 1 and again.chunks_embedded == 0


def test_group_by_patient_merges_a_patients_files(tmp_path, embedder):
    src = tmp_path / "src"
    _note(src, "visit1.md", "V1", "2019: diagnosed with hypertension.\n", patient="P9")
    _note(src, "visit2.md", "V2", "2021: started amlodipine 5 mg.\n", patient="P9")
    _note(src, "other.md", "O1", "Unrelated guideline text.\n")
    report = add(tmp_path / "data", "c", [src], embedder=embedder, tokenizer=APPROX_NAME,
                 read_options=ReadOptions(group_by="patient"))
    assert sorted(report.added) == ["O1", "P9"]
    with CollectionStore.open(tmp_path / "data", "c") as store:
        text = store.get_document("P9").text
        assert text.index("hypertension") < text.index("amlodipine")


def test_a_different_embedding_model_is_refused(tmp_path, embedder):
    src = _corpus(tmp_path / "src")
    _add(tmp_path, src, embedder)
    with pytest.raises(EmbeddingMismatch, match="all-MiniLM-L6-v2"):
        add(tmp_path / "data", "c", [src], embed_model="some-org/other-embedder")


def test_small_batches_commit_progressively(tmp_path, embedder):
    src = _corpus(tmp_path / "src")
    report = _add(tmp_path, src, embedder, batch_chunks=2)
    with CollectionStore.open(tmp_path / "data", "c") as store:
        generation = store.info.generation
    assert generation >= 4  # several transactions, each a whole number of documents
    assert report.ok and len(report.added) == 7


@pytest.mark.skipif(not (TINY_JAMBA / "tokenizer.json").is_file(), reason="tiny Jamba not built")
def test_switching_tokenizer_recounts_every_document(tmp_path, embedder):
    src = _corpus(tmp_path / "src")
    _add(tmp_path, src, embedder)
    report = add(tmp_path / "data", "c", [src], embedder=embedder, tokenizer=str(TINY_JAMBA))
    assert report.chunks_embedded == 0
    from ingest.tokens import TokenCounter

    counter = TokenCounter(str(TINY_JAMBA))
    with CollectionStore.open(tmp_path / "data", "c") as store:
        assert not store.info.tokens_approximate and store.info.tokenizer == str(TINY_JAMBA)
        for doc in store.list_documents():
            assert doc.n_tokens == counter.count(store.get_document(doc.doc_id).text)


def test_progress_reports_bytes_and_files(tmp_path, embedder):
    src = _corpus(tmp_path / "src")
    seen = []
    _add(tmp_path, src, embedder, on_progress=seen.append)
    last = seen[-1]
    assert last.files_done == last.files_total == 7
    assert last.bytes_done == last.bytes_total == sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    assert np.all(np.diff([p.bytes_done for p in seen]) >= 0)
