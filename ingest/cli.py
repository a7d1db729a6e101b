"""``docqa-ingest`` / ``python -m ingest``: a thin shell over the pipeline and the store.

Exit codes: 0 all good; 1 the command could not run (no such collection, embedding mismatch, the
collection is locked by another writer); 2 usage error; 3 some files failed (the rest was ingested);
4 ``verify`` found problems it could not repair.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from .errors import IngestError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FILES_FAILED, EXIT_UNREPAIRED = 0, 1, 2, 3, 4

EXAMPLES = """\
examples:
  docqa-ingest add data/samples --collection demo          ingest a folder (re-running changes nothing)
  docqa-ingest add records/ -c clinic --group-by patient   one document per patient across files
  docqa-ingest add docs/ -c demo --prune                   also drop documents whose files are gone
  docqa-ingest list                                        collections
  docqa-ingest list -c demo                                documents of a collection
  docqa-ingest show P0007 -c demo --text                   one document, with its text
  docqa-ingest stats -c demo                               counts, settings, recent runs
  docqa-ingest verify -c demo                              check store and index agree, repair
  docqa-ingest remove -c demo P0007                        remove documents (--all: the collection)

exit codes: 0 ok, 1 error, 2 usage, 3 some files failed, 4 verify found unrepaired problems
"""


def build_parser() -> argparse.ArgumentParser:
    from .readers.base import CSV_MODES, GROUP_MODES
    from .store import INDEX_KINDS

    p = argparse.ArgumentParser(prog="docqa-ingest", description="Ingest documents into a collection "
                                "store (SQLite + FAISS) for long-context question answering.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_dir = Path(os.environ.get("DOCQA_DATA_DIR", "data/collections"))
    p.add_argument("--data-dir", type=Path, default=data_dir,
                   help="folder of collections (env DOCQA_DATA_DIR; default data/collections)")
    p.add_argument("--tokenizer", default=os.environ.get("DOCQA_TOKENIZER"),
                   help="tokenizer folder or hub id for token counts (env DOCQA_TOKENIZER; default: the "
                   "collection's, else data/tiny-jamba if present, else an approximation)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details (ids and counts)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add = sub.add_parser("add", help="ingest files and folders", epilog=EXAMPLES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add.add_argument("-c", "--collection", required=True)
    add.add_argument("--group-by", choices=GROUP_MODES, default="file",
                     help="file: one document per file; patient: one per patient; folder: one per folder")
    add.add_argument("--embed-model", default=os.environ.get("DOCQA_EMBED_MODEL"),
                     help="sentence-transformers model name or folder (env DOCQA_EMBED_MODEL; default "
                     "all-MiniLM-L6-v2, bundled)")
    add.add_argument("--index", choices=INDEX_KINDS, default=None,
                     help="FAISS index: flat (exact, default), or hnsw / ivf (approximate, for large "
                     "collections); changing it rebuilds the index")
    add.add_argument("--prune", action="store_true",
                     help="remove documents whose source files are gone or no longer produce them")
    add.add_argument("--csv-mode", choices=CSV_MODES, default="file")
    add.add_argument("--csv-key", default=None, help="column that groups CSV rows (with --csv-mode row)")
    add.add_argument("--batch-chunks", type=int, default=512, help="chunks embedded per committed batch")

    ls = sub.add_parser("list", help="list collections, or the documents of one")
    ls.add_argument("-c", "--collection")
    show = sub.add_parser("show", help="show one document")
    show.add_argument("doc_id")
    show.add_argument("-c", "--collection", required=True)
    show.add_argument("--text", action="store_true", help="print the document text too")
    rm = sub.add_parser("remove", help="remove documents, or a whole collection with --all")
    rm.add_argument("doc_ids", nargs="*", metavar="DOC_ID")
    rm.add_argument("-c", "--collection", required=True)
    rm.add_argument("--all", action="store_true", help="delete the whole collection")
    st = sub.add_parser("stats", help="counts and settings of one or all collections")
    st.add_argument("-c", "--collection")
    ver = sub.add_parser("verify", help="check that store and index agree; repair what can be")
    ver.add_argument("-c", "--collection", required=True)
    ver.add_argument("--check-only", action="store_true", help="report without repairing")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "remove" and not args.all and not args.doc_ids:
        parser.error("remove needs DOC_ID... or --all")
    commands = {"add": cmd_add, "list": cmd_list, "show": cmd_show, "remove": cmd_remove,
                "stats": cmd_stats, "verify": cmd_verify}
    try:
        return commands[args.command](args)
    except (IngestError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted; committed batches are kept, re-run to finish", file=sys.stderr)
        return 130


def cmd_add(args) -> int:
    from .pipeline import add
    from .readers import ReadOptions

    options = ReadOptions(group_by=args.group_by, csv_mode=args.csv_mode, csv_key=args.csv_key)
    with _ProgressBar() as bar:
        report = add(args.data_dir, args.collection, args.paths, read_options=options,
                     embed_model=args.embed_model, tokenizer=args.tokenizer, index_kind=args.index,
                     prune=args.prune, batch_chunks=args.batch_chunks, on_progress=bar.update)
    print(f"collection {args.collection!r}: {len(report.added)} added, {len(report.updated)} updated, "
          f"{report.unchanged} unchanged, {len(report.removed)} removed, {len(report.failed)} failed "
          f"({report.files} files, {report.bytes / 1e6:.1f} MB, {report.chunks_embedded} chunks embedded, "
          f"{report.seconds:.1f} s)")
    for failure in report.failed:
        print(f"  failed: {failure.path}: {failure.reason}")
    return EXIT_OK if report.ok else EXIT_FILES_FAILED


class _ProgressBar:
    """tqdm over bytes read, with file and chunk counts; silent when stderr is not a terminal."""

    def __enter__(self):
        from tqdm import tqdm

        self.bar = tqdm(total=0, unit="B", unit_scale=True, desc="ingest", disable=None, file=sys.stderr)
        return self

    def update(self, progress) -> None:
        if self.bar.disable:
            return
        self.bar.total = progress.bytes_total
        self.bar.n = progress.bytes_done
        self.bar.set_postfix_str(f"files {progress.files_done}/{progress.files_total}, "
                                 f"chunks {progress.chunks_embedded}", refresh=False)
        self.bar.refresh()

    def __exit__(self, *exc):
        self.bar.close()


def _open(args):
    from .store import CollectionStore

    return CollectionStore.open(args.data_dir, args.collection)


def cmd_list(args) -> int:
    from .store import CollectionStore

    if not args.collection:
        for name in CollectionStore.list_collections(args.data_dir):
            with CollectionStore.open(args.data_dir, name) as store:
                info = store.info
            print(f"{name}\t{info.n_documents} documents\t{info.n_chunks} chunks\t{info.embed_model}")
        return EXIT_OK
    with _open(args) as store:
        for doc in store.list_documents():
            kind = doc.metadata.get("kind", "")
            print(f"{doc.doc_id}\t{doc.n_tokens} tokens\t{kind}\t{doc.title}")
    return EXIT_OK


def cmd_show(args) -> int:
    with _open(args) as store:
        doc = store.get_document(args.doc_id)
        n_chunks = store.chunk_counts().get(doc.doc_id, 0)
    print(f"doc_id:       {doc.doc_id}\ntitle:        {doc.title}\ncollection:   {doc.collection}")
    print(f"tokens:       {doc.n_tokens}\ncharacters:   {len(doc.text)}\nchunks:       {n_chunks}")
    print(f"content_hash: {doc.content_hash}")
    print("metadata:     " + json.dumps(doc.metadata, sort_keys=True, default=str))
    if args.text:
        print("\n" + doc.text)
    return EXIT_OK


def cmd_remove(args) -> int:
    from .errors import DocumentNotFound
    from .store import CollectionStore

    if args.all:
        CollectionStore.delete_collection(args.data_dir, args.collection)
        print(f"removed collection {args.collection!r}")
        return EXIT_OK
    with CollectionStore.open(args.data_dir, args.collection, writable=True) as store:
        known = store.known_hashes(list(args.doc_ids))
        missing = [d for d in args.doc_ids if d not in known]
        if missing:
            raise DocumentNotFound(f"no document {missing[0]!r} in collection {args.collection!r}; "
                                   "nothing removed")
        store.write([], remove=list(args.doc_ids))
    print(f"removed {len(args.doc_ids)} documents from {args.collection!r}")
    return EXIT_OK


def cmd_stats(args) -> int:
    from .store import CollectionStore

    names = [args.collection] if args.collection else CollectionStore.list_collections(args.data_dir)
    for name in names:
        with CollectionStore.open(args.data_dir, name) as store:
            info = store.info
            docs = store.list_documents()
            runs = store.runs(limit=3)
            folder = store.folder
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        tokens = sum(d.n_tokens for d in docs)
        print(f"collection {name}: {info.n_documents} documents, {info.n_chunks} chunks, "
              f"{tokens} tokens{' (approximate)' if info.tokens_approximate else ''}, "
              f"{size / 1e6:.1f} MB on disk")
        print(f"  embed model {info.embed_model} (dim {info.dim}); tokenizer {info.tokenizer}; "
              f"index {info.index_kind}; chunks of <= {info.chunking.max_tokens} tokens, "
              f"embedded with context {info.chunking.context!r}; generation {info.generation}")
        for run in runs:
            s = run["summary"] or {}
            print(f"  run {run['run_id']}: {run['status']}, {s.get('added', 0)} added, "
                  f"{s.get('updated', 0)} updated, {s.get('unchanged', 0)} unchanged, "
                  f"{len(s.get('failed', []))} failed, {s.get('seconds', 0)} s")
    return EXIT_OK


def cmd_verify(args) -> int:
    from .store import verify

    report = verify(args.data_dir, args.collection, repair=not args.check_only)
    for problem in report.problems:
        tag = "repaired" if problem in report.repaired else "PROBLEM"
        print(f"{tag}: {problem}")
    if report.clean:
        print(f"collection {args.collection!r}: store and index agree")
    return EXIT_UNREPAIRED if report.unrepaired else EXIT_OK
