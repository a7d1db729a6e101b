import threading

import pytest

from ingest.errors import CollectionNotFound, DocumentNotFound, EmbeddingMismatch
from ingest.store import CollectionSettings, CollectionStore
from retrieval.errors import EmptyQuestion
from retrieval.filters import Filters
from retrieval.retriever import Retriever
from tests.retrieval.corpus import _doc, build_collection, write_documents


@pytest.fixture(scope="module")
def store(clinic):
    data_dir, name = clinic
    s = CollectionStore.open(data_dir, name)
    yield s
    s.close()


def ids(ranked):
    return [sd.doc_id for sd in ranked]


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_record_that_answers(store, embedder, mode):
    retriever = Retriever(store, embedder if mode != "bm25" else None, mode)
    ranked = retriever.search("When was warfarin started for Ben Okafor?", k=3)
    assert ranked[0].doc_id == "P0002"
    assert ranked[0].ranks[mode if mode != "hybrid" else "bm25"] >= 1
    assert ranked[0].document.text.startswith("# Ben Okafor")  # the whole document comes back
    for hit in ranked[0].hits:  # hits point into the document's own text
        assert 0 <= hit.start < hit.end <= len(ranked[0].document.text)


def test_lexical_search_finds_codes_and_ids(store, embedder):
    retriever = Retriever(store, embedder, "hybrid")
    assert ids(retriever.search("who is coded E11.9", k=1)) == ["P0001"]
    assert ids(retriever.search("I10", k=1)) == ["P0004"]
    bm25 = Retriever(store, None, "bm25")
    (top,) = bm25.search("HbA1c 7.9%", k=1)
    assert top.doc_id == "P0001"
    assert "7.9%" in top.document.text[top.hits[0].start:top.hits[0].end]


def test_dense_search_finds_paraphrases(store, embedder):
    retriever = Retriever(store, embedder, "dense")
    assert ids(retriever.search("Which patient had an irregular heartbeat?", k=1)) == ["P0002"]


def test_filters_apply_to_both_rankers(store, embedder):
    retriever = Retriever(store, embedder, "hybrid")
    question = "warfarin metformin asthma lisinopril"
    assert set(ids(retriever.search(question, filters=Filters(kind="monograph")))) == \
        {"ref-metformin", "ref-warfarin"}
    assert ids(retriever.search(question, filters=Filters(patient_id="P0003"))) == ["P0003"]
    in_2023 = retriever.search(question, filters=Filters(date_from="2023-01-01", date_to="2023-12-31"))
    assert set(ids(in_2023)) == {"P0002", "P0004"}
    refs = retriever.search(question, filters=Filters(source="reference/*"))
    assert set(ids(refs)) == {"ref-metformin", "ref-warfarin", "guideline-asthma"}
    assert retriever.search(question, filters=Filters(patient_id="P9999")) == []


def test_named_documents_come_first_and_retrieval_fills_the_rest(store, embedder):
    retriever = Retriever(store, embedder, "hybrid")
    ranked = retriever.search("warfarin INR", k=3, doc_ids=["P0003"])
    assert ids(ranked)[0] == "P0003" and ranked[0].selected
    assert len(ranked) == 3 and not any(sd.selected for sd in ranked[1:])
    assert "P0002" in ids(ranked)
    with pytest.raises(DocumentNotFound):
        retriever.search("warfarin", doc_ids=["NOPE"])
    # Named documents stay even when a filter would exclude them.
    kept = retriever.search("warfarin", k=5, doc_ids=["P0003"], filters=Filters(patient_id="P9999"))
    assert ids(kept) == ["P0003"]


def test_reranker_hook_reorders_top_documents(store, embedder):
    def prefer_monographs(question, passages):  # a tiny real scorer: reads the passages it is given
        return [float("monograph" in p.lower()) + 0.01 * ("warfarin" in p.lower()) for p in passages]

    plain = Retriever(store, embedder, "hybrid")
    reranked = Retriever(store, embedder, "hybrid", reranker=prefer_monographs)
    question = "Ben Okafor warfarin dose"
    assert plain.search(question, k=1)[0].doc_id == "P0002"
    top = reranked.search(question, k=2)
    assert top[0].doc_id == "ref-warfarin" and top[0].ranks["rerank"] == 1


def test_bad_input_gives_clear_errors(clinic, store, embedder, tmp_path):
    retriever = Retriever(store, embedder, "hybrid")
    for blank in ("", "   \n"):
        with pytest.raises(EmptyQuestion):
            retriever.search(blank)
    with pytest.raises(CollectionNotFound):
        Retriever.open(clinic[0], "no-such-collection", mode="bm25")
    with pytest.raises(ValueError, match="mode"):
        Retriever(store, embedder, "fuzzy")
    settings = CollectionSettings(embed_model="intfloat/e5-small-v2", dim=384, tokenizer="words")
    CollectionStore.create(tmp_path, "other", settings).close()
    other = CollectionStore.open(tmp_path, "other")
    with pytest.raises(EmbeddingMismatch, match="e5-small-v2"):
        Retriever(other, embedder, "hybrid")
    other.close()
    long_question = "warfarin " * 5000  # longer than the embedder's window: truncated, still answered
    assert retriever.search(long_question, k=1)[0].doc_id in {"P0002", "ref-warfarin"}


def test_bm25_index_is_persisted_per_generation_and_follows_writes(tmp_path, embedder):
    build_collection(tmp_path, embedder)
    reader = CollectionStore.open(tmp_path, "clinic")
    retriever = Retriever(reader, None, "bm25")
    assert retriever.search("zolpidem", k=1) == []
    first = reader.info.generation
    assert (tmp_path / "clinic" / f"bm25.{first}.npz").is_file()
    writer = CollectionStore.open(tmp_path, "clinic", writable=True)
    text = "# Eve Stone (P0005)\n\nInsomnia. Started zolpidem 5 mg at night."
    meta = {"kind": "patient_history", "patient_id": "P0005", "source": "patients/P0005.md"}
    write_documents(writer, [_doc("clinic", "P0005", "Eve Stone", text, meta)], embedder)
    writer.close()
    assert ids(retriever.search("zolpidem", k=1)) == ["P0005"]
    files = sorted(p.name for p in (tmp_path / "clinic").glob("bm25.*.npz"))
    assert files == [f"bm25.{reader.info.generation}.npz"]
    # A fresh process (here: a fresh retriever) loads the saved index instead of rebuilding it.
    assert ids(Retriever(reader, None, "bm25").search("zolpidem", k=1)) == ["P0005"]
    reader.close()


def test_search_while_an_ingest_writes(tmp_path, embedder):
    build_collection(tmp_path, embedder)
    errors: list[BaseException] = []
    stop = threading.Event()

    def ingest():
        writer = CollectionStore.open(tmp_path, "clinic", writable=True)
        try:
            for i in range(15):
                text = f"# Temp {i}\n\nTemporary note {i}: warfarin reviewed, INR 2.{i % 10}."
                doc = _doc("clinic", f"T{i:03d}", f"Temp {i}", text, {"kind": "note", "source": f"t/{i}.md"})
                write_documents(writer, [doc], embedder)
                if i % 3 == 2:
                    writer.write([], remove=[f"T{i - 1:03d}"])
        except BaseException as err:
            errors.append(err)
        finally:
            writer.close()
            stop.set()

    reader = CollectionStore.open(tmp_path, "clinic")
    retriever = Retriever(reader, embedder, "hybrid")
    thread = threading.Thread(target=ingest)
    thread.start()
    searches = 0
    while not stop.is_set() or searches < 3:
        ranked = retriever.search("warfarin INR", k=5)
        assert ranked and all(sd.document.text for sd in ranked)
        searches += 1
    thread.join()
    assert not errors
    final = ids(retriever.search("Temporary note 14 warfarin", k=20))
    assert "T014" in final and "T013" not in final
    reader.close()
