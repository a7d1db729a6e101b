"""The ingestion pipeline: files -> documents -> chunks -> vectors -> the collection store, in batches.

Streaming keeps memory flat: files are read one at a time, and every ~``batch_chunks`` chunks the
pending documents are embedded and committed in one store transaction. A document and all its chunks
land together or not at all, so a run killed at any moment leaves whole documents; the next run finds
them unchanged (same content hash) and carries on with the rest. Nothing is embedded twice: a document
whose hash is unchanged is skipped, and one whose title or metadata changed but whose text did not keeps
its chunks and vectors. Merging modes (``group_by`` patient or folder) must see every part of a group
before it can be written, so they hold the parsed documents of a run in memory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .chunking import ChunkConfig, chunk_spans
from .context import CONTEXT_TOKENS, embedding_texts
from .errors import CollectionNotFound, EmbeddingMismatch, ReaderError, StoreError
from .store import (
    CollectionSettings,
    CollectionStore,
    DocumentWrite,
    content_hash,
    text_hash,
)
from .tokens import TokenCounter, default_tokenizer
from .types import Document, ParsedDocument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


@dataclass(frozen=True)
class Progress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    chunks_embedded: int


@dataclass
class IngestReport:
    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    run_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {
            "added": len(self.added), "updated": len(self.updated), "unchanged": self.unchanged,
            "removed": len(self.removed), "failed": [[f.path, f.reason] for f in self.failed],
            "files": self.files, "bytes": self.bytes, "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class _Pending:
    update: DocumentWrite
    is_new: bool


class _LazyEmbedder:
    """Loads the embedding model only when a document needs embedding: re-ingests stay cheap."""

    def __init__(self, model: str | None, embedder, expect_dim: int | None):
        self._model, self._embedder, self._dim = model, embedder, expect_dim

    def get(self):
        if self._embedder is None:
            from .embed import cached_embedder

            self._embedder = cached_embedder(self._model)
        if self._dim is not None and self._embedder.dim != self._dim:
            raise EmbeddingMismatch(
                f"embedding model {self._embedder.name} has dimension {self._embedder.dim}, "
                f"the collection {self._dim}"
            )
        return self._embedder


def add(
    data_dir: Path | str,
    collection: str,
    paths: Iterable[Path | str],
    *,
    read_options=None,
    embed_model: str | None = None,
    embedder=None,
    tokenizer: str | None = None,
    index_kind: str | None = None,
    chunking: ChunkConfig | None = None,
    prune: bool = False,
    batch_chunks: int = 512,
    on_progress: Callable[[Progress], None] | None = None,
) -> IngestReport:
    """Ingest ``paths`` into ``collection``, creating it on first use; see the module docstring.

    ``embed_model`` / ``tokenizer`` / ``index_kind`` / ``chunking`` default to the collection's own
    settings (or the project defaults for a new one; ``tokenizer="approx:chars/4"`` asks for the
    approximation explicitly). A different embedding model for an existing collection raises
    EmbeddingMismatch; a different tokenizer recounts every document; a different index kind rebuilds
    the index. ``embedder`` passes an already loaded Embedder (tests, benchmarks).
    """
    from .readers import ReadOptions

    started = time.perf_counter()
    read_options = read_options or ReadOptions()
    paths = [Path(p) for p in paths]
    report = IngestReport(collection)
    store, lazy, counter = _open_for_write(data_dir, collection, embed_model, embedder, tokenizer,
                                           index_kind, chunking)
    try:
        report.run_id = store.start_run([str(p) for p in paths])
        status = "failed"
        try:
            _ingest(store, lazy, counter, paths, read_options, prune, batch_chunks, on_progress, report)
            status = "done"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            report.seconds = time.perf_counter() - started
            store.finish_run(report.run_id, status, report.as_dict())
    finally:
        store.close()
    log.info("collection %s: %d added, %d updated, %d unchanged, %d removed, %d failed, %d chunks, %.1fs",
             collection, len(report.added), len(report.updated), report.unchanged, len(report.removed),
             len(report.failed), report.chunks_embedded, report.seconds)
    return report


def _open_for_write(data_dir, name, embed_model, embedder, tokenizer, index_kind, chunking):
    """Open (or create) the collection and reconcile the requested settings with its own."""
    from .embed import resolve_model

    try:
        store = CollectionStore.open(data_dir, name, writable=True)
    except CollectionNotFound:
        store = None
    if store is None:
        embedder = embedder or _load_embedder(embed_model)
        counter = TokenCounter(tokenizer if tokenizer is not None else default_tokenizer(None, None))
        settings = CollectionSettings(
            embed_model=embedder.name, dim=embedder.dim, tokenizer=counter.name,
            tokens_approximate=counter.approximate, index_kind=index_kind or "flat",
            chunking=_fit_chunking(chunking or ChunkConfig(), embedder),
        )
        store = CollectionStore.create(data_dir, name, settings)
        return store, _LazyEmbedder(None, embedder, None), counter
    try:
        info = store.info
        wanted = info.embed_model
        if embedder is not None:
            wanted = embedder.name
        elif embed_model:
            wanted = resolve_model(embed_model)[0]
        if wanted != info.embed_model:
            raise EmbeddingMismatch(
                f"collection {name!r} was embedded with {info.embed_model} (dimension {info.dim}), not "
                f"{wanted}; drop --embed-model, or ingest into a new collection"
            )
        if chunking is not None and chunking != info.chunking:
            raise StoreError(f"collection {name!r} was chunked with {info.chunking}; a different chunking "
                             "needs a new collection")
        counter = TokenCounter(tokenizer if tokenizer is not None else info.tokenizer)
        if counter.name != info.tokenizer:
            n = store.set_tokenizer(counter.name, counter.approximate, counter.count)
            log.info("collection %s: tokenizer changed to %s; recounted %d documents", name, counter.name, n)
        if index_kind is not None and index_kind != info.index_kind:
            store.set_index_kind(index_kind)
        return store, _LazyEmbedder(info.embed_model, embedder, info.dim), counter
    except BaseException:
        store.close()
        raise


def _load_embedder(model: str | None):
    from .embed import cached_embedder

    return cached_embedder(model)


def _fit_chunking(config: ChunkConfig, embedder) -> ChunkConfig:
    """Chunks longer than the embedder's window would be silently truncated: cap them."""
    cap = embedder.max_chunk_tokens - (CONTEXT_TOKENS if config.context != "none" else 0)
    if config.max_tokens <= cap:
        return config
    return ChunkConfig(cap, min(config.overlap_tokens, cap // 4), config.overlap_sentences, config.context)


def _list_files(paths: list[Path], options, report: IngestReport) -> list[tuple[Path, Path]]:
    from .readers import discover

    files = []
    for path in paths:
        try:
            files.extend(discover([path], options))
        except ReaderError as err:
            report.failed.append(Failure(str(path), err.reason))
    return files


def _read_all(files, options, report: IngestReport) -> Iterator[tuple[list[ParsedDocument], list, int]]:
    """Per file: (documents, [(file, root)], size); merging modes yield one group list at the end."""
    from .readers import group_documents, read_path

    held: list[ParsedDocument] = []
    held_files: list = []
    for file, root in files:
        size = _size(file)
        try:
            docs = read_path(file, root, options)
        except ReaderError as err:
            report.failed.append(Failure(str(file), err.reason))
            docs = []
        except Exception as err:  # a reader bug must not lose the rest of the run
            log.exception("reader crashed on %s", file)
            report.failed.append(Failure(str(file), f"reader crashed ({type(err).__name__}); please report"))
            docs = []
        if options.group_by == "file":
            yield docs, [(file, root)], size
        else:
            held.extend(docs)
            held_files.append((file, root))
            yield [], [], size
    if held:
        yield group_documents(held, options.group_by), held_files, 0


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except OSError:
        return 0


def _sources(doc: ParsedDocument, files: list[tuple[Path, Path]]) -> list[str]:
    """Absolute paths of the files a document came from (what ``--prune`` checks for existence)."""
    rels = doc.metadata.get("sources") or [doc.metadata.get("path") or doc.source]
    out = []
    if len(files) == 1:
        out.append(str(files[0][0].absolute()))
    roots = {root for _, root in files}
    for rel in rels:
        rel = str(rel).split("#", 1)[0]
        for root in roots:
            candidate = Path(root, rel).absolute()
            if candidate.exists() and str(candidate) not in out:
                out.append(str(candidate))
    return out


def _metadata(parsed: ParsedDocument) -> dict:
    """The reader's metadata plus ``source`` and ``kind`` (front matter's kind wins over the format)."""
    return {**parsed.metadata, "source": parsed.source, "kind": parsed.metadata.get("kind", parsed.kind)}


def _document(parsed: ParsedDocument, collection: str, n_tokens: int) -> Document:
    metadata = _metadata(parsed)
    return Document(
        doc_id=parsed.doc_id, collection=collection, title=parsed.title, text=parsed.text,
        metadata=metadata, content_hash=content_hash(parsed.title, parsed.text, metadata), n_tokens=n_tokens,
    )


class _Batcher:
    """Collects changed documents, then embeds and commits them together.

    Two files can yield one document id (two exports of one patient, equal relative paths under two
    roots). Like ``group_documents``, the pipeline merges them rather than let one overwrite the
    other: ids the store already knows to have several source files are held until the end of the
    run and merged then; a duplicate first met mid-run re-reads the earlier files' part and merges.
    """

    def __init__(self, store: CollectionStore, lazy: _LazyEmbedder, counter: TokenCounter,
                 report: IngestReport, batch_chunks: int, options):
        self.store, self.lazy, self.counter, self.report = store, lazy, counter, report
        self.batch_chunks, self.options = batch_chunks, options
        self.pending: dict[str, _Pending] = {}
        self.n_chunks = 0
        self.seen: dict[str, list] = {}  # doc_id -> [(file, root)] that produced it in this run
        self.held: dict[str, list] = {}  # doc_id -> [(part, [(file, root)])] to merge at the end
        self.multi = {d for d, src in store.document_sources().items() if len(src) > 1}
        self.chunking = store.info.chunking

    def offer(self, parsed: list[ParsedDocument], files: list[tuple[Path, Path]]) -> None:
        fresh = []
        for doc in parsed:
            if doc.doc_id in self.seen and doc.doc_id not in self.held:
                self.held[doc.doc_id] = self._reread(doc.doc_id)
            self.seen.setdefault(doc.doc_id, []).extend(files)
            if doc.doc_id in self.held or doc.doc_id in self.multi:
                self.held.setdefault(doc.doc_id, []).append((doc, files))
            else:
                fresh.append(doc)
        self._consider_all([(doc, files) for doc in fresh])

    def _reread(self, doc_id: str) -> list:
        from .readers import read_path

        parts = []
        for file, root in dict.fromkeys(self.seen[doc_id]):
            try:
                docs = read_path(file, root, self.options)
                parts += [(d, [(file, root)]) for d in docs if d.doc_id == doc_id]
            except ReaderError:
                continue  # it read a moment ago; if it fails now, merge what remains
        return parts

    def finish(self) -> None:
        """Merge and write the held multi-file documents, then commit what is pending."""
        from .readers import group_documents

        merged = []
        for parts in self.held.values():
            files = [f for _, fs in parts for f in fs]
            merged += [(doc, files) for doc in group_documents([p for p, _ in parts], "file")]
        self._consider_all(merged)
        self.flush()

    def _consider_all(self, docs: list[tuple[ParsedDocument, list]]) -> None:
        known = self.store.known_hashes([d.doc_id for d, _ in docs])
        for doc, files in docs:
            self._consider(doc, known.get(doc.doc_id), files)
            if self.n_chunks >= self.batch_chunks:
                self.flush()

    def _consider(self, parsed: ParsedDocument, known: tuple[str, str] | None, files) -> None:
        if known is not None and known[0] == content_hash(parsed.title, parsed.text, _metadata(parsed)):
            self.report.unchanged += 1
            return
        doc = _document(parsed, self.store.name, self.counter.count(parsed.text))
        # What the chunks' vectors depend on: the text, and with a context line also the title.
        t_hash = text_hash(doc.text if self.chunking.context == "none" else f"{doc.title}\n{doc.text}")
        spans = None
        if known is None or known[1] != t_hash:
            embedder = self.lazy.get()
            spans = chunk_spans(doc.text, embedder.token_starts, self.chunking)
            self.n_chunks += len(spans)
        update = DocumentWrite(doc, t_hash, _sources(parsed, files), spans)
        dropped = self.pending.pop(doc.doc_id, None)  # a part superseded by its merged whole
        if dropped is not None and dropped.update.spans:
            self.n_chunks -= len(dropped.update.spans)
        self.pending[doc.doc_id] = _Pending(update, known is None)

    def _embedding_texts(self, update: DocumentWrite) -> list[str]:
        if not update.spans:
            return []
        doc = update.document
        return embedding_texts(doc.text, doc.title, list(update.spans), self.chunking.context,
                               self.lazy.get().token_starts)

    def flush(self) -> None:
        if not self.pending:
            return
        pending = list(self.pending.values())
        texts = [t for p in pending for t in self._embedding_texts(p.update)]
        vecs = self.lazy.get().encode(texts) if texts else None
        updates, at = [], 0
        for p in pending:
            u = p.update
            if u.spans is not None:
                u = DocumentWrite(u.document, u.text_hash, u.sources, u.spans, vecs[at : at + len(u.spans)])
                at += len(u.spans)
            updates.append(u)
        self.store.write(updates, run_id=self.report.run_id)
        for p in pending:
            (self.report.added if p.is_new else self.report.updated).append(p.update.document.doc_id)
        self.report.chunks_embedded += len(texts)
        self.pending, self.n_chunks = {}, 0


def _ingest(store, lazy, counter, paths, options, prune, batch_chunks, on_progress, report) -> None:
    files = _list_files(paths, options, report)
    report.files = len(files)
    report.bytes = sum(_size(f) for f, _ in files)
    batcher = _Batcher(store, lazy, counter, report, batch_chunks, options)
    done_files, done_bytes = 0, 0
    for docs, doc_files, size in _read_all(files, options, report):
        if docs:
            batcher.offer(docs, doc_files)
        done_files += 1 if size or doc_files else 0
        done_bytes += size
        if on_progress is not None:
            on_progress(Progress(min(done_files, len(files)), len(files), done_bytes, report.bytes,
                                 report.chunks_embedded))
    batcher.finish()
    added = set(report.added)  # a document added, then replaced by its merged whole, counts once
    report.updated = list(dict.fromkeys(d for d in report.updated if d not in added))
    if on_progress is not None:
        on_progress(Progress(len(files), len(files), report.bytes, report.bytes, report.chunks_embedded))
    if prune:
        report.removed = _prune(store, paths, batcher.seen, report)


def _prune(store: CollectionStore, paths: list[Path], seen: dict, report: IngestReport) -> list[str]:
    """Remove documents not produced by this run whose sources are gone or lie under ``paths``.

    A document is kept when any of its source files failed to read this run: a transient error must
    not delete data. Documents from files outside ``paths`` that still exist are left alone.
    """
    roots = [str(p.absolute()) for p in paths]
    failed = {str(Path(f.path).absolute()) for f in report.failed}
    doomed = []
    for doc_id, sources in store.document_sources().items():
        if doc_id in seen or not sources or any(s in failed for s in sources):
            continue
        if all(not os.path.exists(s) or _under(s, roots) for s in sources):
            doomed.append(doc_id)
    if doomed:
        store.write([], remove=doomed, run_id=report.run_id)
    return doomed


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
