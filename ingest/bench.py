"""Ingestion benchmark: our pipeline vs LlamaIndex, re-ingest cost, and peak memory 1x vs a larger corpus.

    python -m ingest.bench --corpus data/samples [--max-mb 0.5] [--scale 10] [--memory-model tiny]

1. First ingest of ``--corpus``: documents/s, chunks/s, MB/s for ``ingest.pipeline.add`` and, in the
   same process with the same loaded embedder and chunk size, LlamaIndex's ``IngestionPipeline``
   (SentenceSplitter + the embedder) followed by ``VectorStoreIndex`` and ``persist``. ``--max-mb``
   limits this part to a subset of the files (in path order, skipping files that would overflow).
2. Re-ingest of the unchanged corpus, as a fraction of the first ingest's time.
3. Peak RSS of a fresh ``add`` process on the corpus and on a ``--scale`` times larger generated one.
   ``--memory-model tiny`` runs both with a one-layer random-weights embedder built on MiniLM's
   tokenizer, so the larger corpus finishes in minutes on a small CPU; the pipeline, the chunker and
   the store are the real ones, which is what the streaming claim is about.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .chunking import ChunkConfig

LLAMA_OVERLAP = 32  # tokens: the most our chunker repeats (whole sentences, at most 2)


def subset(corpus: Path, max_mb: float, out: Path) -> Path:
    """Copy files of ``corpus`` (path order) into ``out`` while they fit in ``max_mb``."""
    budget = max_mb * 1e6
    for path in sorted(corpus.rglob("*.md")):
        size = path.stat().st_size
        if size <= budget:
            target = out / path.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            budget -= size
    return out


def corpus_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*.md") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def run_ours(corpus: Path, data_dir: Path, embedder, chunking: ChunkConfig) -> dict:
    from .pipeline import add

    t0, c0 = time.perf_counter(), time.process_time()
    report = add(data_dir, "bench", [corpus], embedder=embedder, chunking=chunking)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    from .store import CollectionStore

    with CollectionStore.open(data_dir, "bench") as store:
        tokens = sum(len(embedder.token_starts(c.text)) for c in store.iter_chunks())
    docs = len(report.added) + len(report.updated) + report.unchanged
    return {"seconds": seconds, "cpu": cpu, "docs": docs, "chunks": report.chunks_embedded,
            "tokens": tokens if report.chunks_embedded else 0}


def _llama_embedding(embedder):
    """Our Embedder behind LlamaIndex's embedding interface: the same model, batch size and precision."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class Adapter(BaseEmbedding):
        _embedder: object = PrivateAttr()

        def __init__(self, inner):
            super().__init__(model_name=inner.name, embed_batch_size=inner.batch_size)
            self._embedder = inner

        def _get_text_embeddings(self, texts):
            return self._embedder.encode(list(texts)).tolist()

        def _get_text_embedding(self, text):
            return self._get_text_embeddings([text])[0]

        def _get_query_embedding(self, query):
            return self._get_text_embedding(query)

        async def _aget_query_embedding(self, query):
            return self._get_query_embedding(query)

    return Adapter(embedder)


def run_llamaindex(corpus: Path, persist_dir: Path, embedder, chunking: ChunkConfig) -> dict:
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter

    raw = embedder._backend  # the same word pieces our chunker counts
    splitter = SentenceSplitter(chunk_size=chunking.max_tokens, chunk_overlap=LLAMA_OVERLAP,
                                tokenizer=lambda t: raw.encode(t, add_special_tokens=False).ids,
                                include_metadata=False)
    embed = _llama_embedding(embedder)
    t0, c0 = time.perf_counter(), time.process_time()
    docs = SimpleDirectoryReader(str(corpus), recursive=True, required_exts=[".md"]).load_data()
    for doc in docs:  # embed the text alone, as our pipeline does
        doc.excluded_embed_metadata_keys = list(doc.metadata)
    nodes = IngestionPipeline(transformations=[splitter, embed]).run(documents=docs)
    index = VectorStoreIndex(nodes, embed_model=embed)
    index.storage_context.persist(persist_dir=str(persist_dir))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    from llama_index.core.schema import MetadataMode

    tokens = sum(len(embedder.token_starts(n.get_content(metadata_mode=MetadataMode.EMBED))) for n in nodes)
    return {"seconds": seconds, "cpu": cpu, "docs": len(docs), "chunks": len(nodes), "tokens": tokens}


def build_tiny_embedder(out: Path) -> Path:
    """A one-layer, 32-wide random BERT with MiniLM's tokenizer, saved as a sentence-transformers model."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    from .embed import default_model_path

    bert_dir = out / "bert"
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(bert_dir)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(default_model_path() / name, bert_dir / name)
    word = Transformer(str(bert_dir), max_seq_length=256)
    model = SentenceTransformer(modules=[word, Pooling(32), Normalize()], device="cpu")
    model.save(str(out / "st"))
    return out / "st"


def peak_rss_child(corpus: Path, embed_model: str | None) -> dict:
    """Run one first ingest in a fresh process and report its peak resident memory."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "ingest.bench", "--_peak", str(corpus), "--_data", tmp]
        if embed_model:
            cmd += ["--_model", embed_model]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _peak_main(corpus: Path, data_dir: Path, model: str | None) -> None:
    from .pipeline import add

    t0 = time.perf_counter()
    report = add(data_dir, "bench", [corpus], embed_model=model)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(json.dumps({"peak_rss_mb": rss_mb, "seconds": time.perf_counter() - t0,
                      "chunks": report.chunks_embedded, "docs": len(report.added)}))


def _rates(result: dict, n_bytes: int) -> str:
    s = result["seconds"]
    return (f"{result['docs']:>5} docs {result['chunks']:>6} chunks {result['tokens']:>8} tokens "
            f"{s:7.1f} s wall {result['cpu']:7.1f} s cpu | {result['docs'] / s:6.3f} docs/s "
            f"{result['chunks'] / s:6.2f} chunks/s {n_bytes / 1e6 / s:6.4f} MB/s")


def _ensure_scaled(corpus: Path, scale: int, work: Path) -> Path:
    path = corpus / "MANIFEST.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    out = work / f"corpus-x{scale}"
    subprocess.run([sys.executable, "-m", "ingest.samples", "generate", "--out", str(out),
                    "--seed", str(manifest.get("seed", 7)), "--scale", str(scale)], check=True,
                   capture_output=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ingest.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("data/samples"))
    p.add_argument("--max-mb", type=float, default=None, help="speed test on a subset of this many MB")
    p.add_argument("--scale", type=int, default=10, help="size of the memory-test corpus vs the sample one")
    p.add_argument("--memory-model", choices=("tiny", "minilm"), default="tiny")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--_peak", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--_data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--_model", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._peak:
        _peak_main(args._peak, args._data, args._model)
        return 0
    n_docs, n_bytes = corpus_size(args.corpus)
    print(f"corpus {args.corpus}: {n_docs} files, {n_bytes / 1e6:.2f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_speed:
            corpus = args.corpus
            if args.max_mb:
                corpus = subset(args.corpus, args.max_mb, work / "subset")
                n_files, n_bytes = corpus_size(corpus)
                print(f"speed test on a subset: {n_files} files, {n_bytes / 1e6:.2f} MB")
            _speed(corpus, n_bytes, work)
        if not args.skip_memory:
            _memory(args.corpus, args.scale, args.memory_model, work)
    return 0


def _speed(corpus: Path, n_bytes: int, work: Path) -> None:
    from .embed import Embedder

    embedder = Embedder()
    embedder.encode(["warm-up sentence"] * 8)
    for path in corpus.rglob("*.md"):  # both sides then read from the page cache
        path.read_bytes()
    chunking = ChunkConfig()
    print(f"embedder {embedder.name} ({embedder.precision}), chunks <= {chunking.max_tokens} word pieces")
    llama = run_llamaindex(corpus, work / "llama", embedder, chunking)
    ours = run_ours(corpus, work / "ours", embedder, chunking)
    again = run_ours(corpus, work / "ours", embedder, chunking)
    print(f"llamaindex first ingest: {_rates(llama, n_bytes)}")
    print(f"ours       first ingest: {_rates(ours, n_bytes)}")
    print(f"speed ratio (llamaindex time / ours): wall {llama['seconds'] / ours['seconds']:.2f}, "
          f"cpu {llama['cpu'] / ours['cpu']:.2f} (target >= 1.0)")
    print(f"re-ingest unchanged: {again['seconds']:.2f} s = {100 * again['seconds'] / ours['seconds']:.2f}% "
          f"of the first ingest ({again['chunks']} chunks embedded; target < 5%)")


def _memory(corpus: Path, scale: int, which: str, work: Path) -> None:
    model = str(build_tiny_embedder(work / "tiny")) if which == "tiny" else None
    big = _ensure_scaled(corpus, scale, work)
    _, big_bytes = corpus_size(big)
    one = peak_rss_child(corpus, model)
    many = peak_rss_child(big, model)
    print(f"peak RSS ({'tiny random embedder' if model else 'all-MiniLM-L6-v2'}): "
          f"1x {one['peak_rss_mb']:.0f} MB ({one['chunks']} chunks, {one['seconds']:.0f} s); "
          f"{scale}x ({big_bytes / 1e6:.1f} MB) {many['peak_rss_mb']:.0f} MB ({many['chunks']} chunks, "
          f"{many['seconds']:.0f} s); ratio {many['peak_rss_mb'] / one['peak_rss_mb']:.2f} (target <= 1.3)")


if __name__ == "__main__":
    sys.exit(main())
