"""``python -m retrieval`` / ``docqa-retrieval``: search a collection, evaluate, benchmark.

A thin shell: it parses flags (with ``DOCQA_*`` environment fallbacks), calls the library and prints.
Document text never reaches the logs; the terminal shows ids, titles, counts and (for ``search
--evidence``) the evidence sentences the user asked to see.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from ingest.errors import IngestError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
DEFAULT_BUDGET = 131_072  # without a model to ask, pack for a 128K context


def _common(p: argparse.ArgumentParser) -> None:
    data_dir = Path(os.environ.get("DOCQA_DATA_DIR", "data/collections"))
    p.add_argument("--data-dir", type=Path, default=data_dir,
                   help="folder of collections (env DOCQA_DATA_DIR; default data/collections)")
    p.add_argument("--embed-model", default=os.environ.get("DOCQA_EMBED_MODEL"),
                   help="embedding model (env DOCQA_EMBED_MODEL; default: the collection's own)")
    p.add_argument("--tokenizer", default=os.environ.get("DOCQA_TOKENIZER"),
                   help="tokenizer for token counts (env DOCQA_TOKENIZER; default data/tiny-jamba "
                   "if present)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch and FAISS threads for the query path (default 1: one short question gains "
                   "nothing from more, and on a busy machine extra threads mostly wait)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="docqa-retrieval", description="Rank whole documents for a question "
                                "and pack them into a token budget.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (ids, counts, timings)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("search", help="rank documents for a question and show how they pack")
    _common(s)
    s.add_argument("question")
    s.add_argument("-c", "--collection", required=True)
    s.add_argument("-k", "--k", type=int, default=10, help="documents to retrieve (default 10)")
    s.add_argument("--mode", choices=("dense", "bm25", "hybrid"), default="hybrid")
    s.add_argument("--budget", type=int, default=int(os.environ.get("DOCQA_BUDGET") or DEFAULT_BUDGET),
                   help=f"prompt + answer tokens (env DOCQA_BUDGET; default {DEFAULT_BUDGET:,})")
    s.add_argument("--reserve", type=int, default=1024, help="tokens kept for the answer (default 1024)")
    s.add_argument("--order", choices=("edges", "rank", "reverse", "chronological"), default="edges")
    s.add_argument("--doc", action="append", default=[], metavar="DOC_ID", help="pack this document first")
    s.add_argument("--patient", action="append", help="only this patient's documents (repeatable)")
    s.add_argument("--kind", action="append", help="only documents of this kind (repeatable)")
    s.add_argument("--source", action="append", help="only documents whose source matches this glob")
    s.add_argument("--date-from", help="only documents dated on or after (YYYY-MM-DD)")
    s.add_argument("--date-to", help="only documents dated on or before (YYYY-MM-DD)")
    s.add_argument("--evidence", type=int, default=0, metavar="N",
                   help="show N evidence sentences per document")
    s.add_argument("--json", action="store_true", help="print the result as JSON")

    e = sub.add_parser("eval", help="recall@k, MRR, nDCG@10 and packed recall: dense vs bm25 vs hybrid")
    _common(e)
    e.add_argument("-c", "--collection", default="samples")
    e.add_argument("--questions", type=Path, default=Path("data/samples/questions.jsonl"))
    e.add_argument("--limit", type=int, help="only the first N questions")
    e.add_argument("--json", type=Path, metavar="FILE", help="also write the full report as JSON")
    e.add_argument("--runs", default=None, metavar="LABELS",
                   help="comma-separated columns (default dense,bm25,hybrid,hybrid-rrf; also dense-raw, "
                        "hybrid-raw: without the dense length correction)")

    b = sub.add_parser("bench", help="query latency at 10K/100K/1M chunks, exact vs approximate index")
    _common(b)
    b.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated chunk counts")
    b.add_argument("--queries", type=int, default=200, help="timed queries per configuration")
    b.add_argument("--budget", type=int, default=32_768, help="packing budget per query (default 32,768)")
    b.add_argument("--no-sqlite", action="store_true", help="skip the real SQLite store row at 100K")
    b.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON")
    return p


def _counter(tokenizer: str | None):
    """The token counter: the flag or DOCQA_TOKENIZER, else data/tiny-jamba, else the approximation."""
    from ingest.tokens import TokenCounter, default_tokenizer

    return TokenCounter(default_tokenizer(tokenizer, None))


def _filters(args):
    from retrieval.filters import Filters

    return Filters(patient_id=tuple(args.patient or ()), kind=tuple(args.kind or ()),
                   source=tuple(args.source or ()), date_from=args.date_from, date_to=args.date_to)


def cmd_search(args) -> int:
    from retrieval.evidence import packed_evidence
    from retrieval.pack import pack
    from retrieval.report import packed_summary, search_report
    from retrieval.retriever import Retriever

    retriever = Retriever.open(args.data_dir, args.collection, embed_model=args.embed_model, mode=args.mode)
    counter = _counter(args.tokenizer)
    ranked = retriever.search(args.question, k=args.k, filters=_filters(args), doc_ids=args.doc)
    packed = pack(ranked, question=args.question, budget=args.budget, count_tokens=counter.count,
                  reserve=args.reserve, order=args.order)
    spans = packed_evidence(packed, ranked, k=args.evidence) if args.evidence else {}
    if args.json:
        print(json.dumps(search_report(ranked, packed, spans), indent=2))
    else:
        info = retriever.store.info
        print(f"collection {info.name}: {info.n_documents:,} documents, {info.n_chunks:,} chunks; "
              f"mode {args.mode}; tokens counted with {counter.name}")
        print(packed_summary(ranked, packed, spans))
    retriever.store.close()
    return EXIT_OK


def cmd_eval(args) -> int:
    from ingest.embed import Embedder
    from ingest.store import CollectionStore
    from retrieval.evaluate import DEFAULT_RUNS, RUNS, evaluate, format_by_type, format_table, load_questions

    runs = tuple(r.strip() for r in args.runs.split(",") if r.strip()) if args.runs else DEFAULT_RUNS
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        print(f"unknown --runs {', '.join(unknown)}; choose from {', '.join(RUNS)}", file=sys.stderr)
        return EXIT_USAGE
    questions = load_questions(args.questions)[: args.limit]
    store = CollectionStore.open(args.data_dir, args.collection)
    embedder = Embedder(args.embed_model or store.info.embed_model)
    counter = _counter(args.tokenizer)
    report = evaluate(store, embedder, questions, count_tokens=counter.count, modes=runs)
    report["tokenizer"] = counter.name
    print(f"collection {report['collection']}: {report['n_documents']:,} documents, {report['n_chunks']:,} "
          f"chunks; {report['n_questions']} questions; tokens counted with {counter.name}")
    print(format_table(report))
    print()
    print(format_by_type(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    store.close()
    return EXIT_OK


def cmd_bench(args) -> int:
    from ingest.embed import Embedder
    from retrieval.bench import format_rows, run

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    embedder = Embedder(args.embed_model)
    counter = _counter(args.tokenizer)
    with tempfile.TemporaryDirectory(prefix="docqa-bench-") as tmp:
        rows = run(sizes, embedder, counter.count, queries=args.queries, budget=args.budget,
                   real_store_dir=None if args.no_sqlite else Path(tmp))
    print(f"{args.queries} queries per row, k=10 documents packed into {args.budget:,} tokens "
          f"(counted with {counter.name}); {args.threads} thread(s); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; times in ms")
    print(format_rows(rows))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=2))
        print(f"wrote {args.json}")
    return EXIT_OK


def _set_threads(n: int) -> None:
    import faiss
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    handler = {"search": cmd_search, "eval": cmd_eval, "bench": cmd_bench}[args.command]
    _set_threads(args.threads)
    try:
        return handler(args)
    except (IngestError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        if args.command != "bench" and "collection" in str(err):
            from ingest.store import CollectionStore

            names = CollectionStore.list_collections(args.data_dir)
            print(f"collections in {args.data_dir}: {', '.join(names) or 'none'}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
