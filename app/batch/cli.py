"""``batch``: many questions over many documents, unattended. A thin shell over ``run_batch`` and the report.

    batch run --collection NAME --questions FILE --mode per-document|retrieval --out DIR
    batch report --out DIR
    batch check FILE
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path

from app.batch.questions import QuestionFileError, load_questions
from app.batch.report import write_report
from app.batch.results import ResultsError
from app.batch.runner import MODES, BatchError, BatchOptions, RunSummary, run_batch
from app.service import QAError, build_backend, check_collection
from app.settings import Settings, add_arguments
from retrieval.errors import BadFilter
from retrieval.filters import Filters

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_MODEL, EXIT_STOPPED = 0, 1, 2, 3, 4, 130
EXIT_FOR_KIND = {"bad_input": EXIT_USAGE, "not_found": EXIT_NOT_FOUND, "model_unavailable": EXIT_MODEL,
                 "too_long": EXIT_USAGE}

EPILOG = """examples:
  batch check docs/examples/questions.yaml
  batch run --collection samples --questions docs/examples/questions.yaml --mode per-document --out runs/meds
  batch run --collection samples --questions q.csv --mode per-document --kind patient_history \\
      --server http://127.0.0.1:8000/v1 --tokenizer /models/jamba-mini --concurrency 8 --out runs/meds
  batch run --collection samples --questions q.yaml --mode retrieval --out runs/cohort
  batch report --out runs/meds

Re-running the same `batch run` resumes: finished items are skipped. Ctrl-C stops cleanly.
exit codes: 0 every item answered; 1 some items failed (see the report); 2 bad input (questions file,
flags); 3 unknown collection or document; 4 model or server unavailable (at the start, or five items
in a row); 130 stopped by Ctrl-C or SIGTERM before the end.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="batch", description=__doc__.splitlines()[0].strip("`"), epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="answer every question of a file (resumable)", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--collection", "-c", required=True)
    r.add_argument("--questions", "-q", required=True, type=Path, help="questions file: .yaml or .csv")
    r.add_argument("--mode", choices=MODES, default="per-document",
                   help="per-document: each question of each selected document, given whole; "
                   "retrieval: each question over the collection (default per-document)")
    r.add_argument("--out", "-o", required=True, type=Path, help="folder for results.jsonl and the report")
    sel = r.add_argument_group("document selection (default: every document)")
    sel.add_argument("--doc", dest="doc_ids", action="append", metavar="ID", default=[],
                     help="this document (repeatable); in retrieval mode: always read it")
    sel.add_argument("--patient", action="append", help="documents of this patient id (repeatable)")
    sel.add_argument("--kind", action="append", help="documents of this kind, e.g. patient_history")
    sel.add_argument("--source", action="append", help="documents whose source path matches this glob")
    sel.add_argument("--date-from", help="documents covering dates on or after YYYY-MM-DD")
    sel.add_argument("--date-to", help="documents covering dates on or before YYYY-MM-DD")
    r.add_argument("--concurrency", type=int, default=4,
                   help="requests in flight to a --server (default 4); the in-process engine runs one")
    r.add_argument("--max-tokens", type=int, help="answer length in tokens (default 512; 64 for a "
                   "random-weights test model)")
    r.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (reproducible, resumable)")
    r.add_argument("--k", type=int, default=20, help="retrieval mode: documents retrieved before packing")
    r.add_argument("--no-prefix-reuse", dest="reuse_prefix", action="store_false",
                   help="per-document mode on the engine: prefill each question's whole prompt")
    r.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    add_arguments(r)
    rep = sub.add_parser("report", help="write report.csv and report.html from a run's results")
    rep.add_argument("--out", "-o", required=True, type=Path, help="the run's folder")
    rep.add_argument("--csv", type=Path, help="CSV path (default OUT/report.csv)")
    rep.add_argument("--html", type=Path, help="HTML path (default OUT/report.html)")
    chk = sub.add_parser("check", help="validate a questions file and list its questions")
    chk.add_argument("questions", type=Path)
    return p.parse_args(argv)


def _filters(args: argparse.Namespace) -> Filters | None:
    f = Filters(patient_id=tuple(args.patient or ()), kind=tuple(args.kind or ()),
                source=tuple(args.source or ()), date_from=args.date_from, date_to=args.date_to)
    return f if f.active else None


def _install_stop(stop: threading.Event, err) -> dict:
    """First Ctrl-C (or SIGTERM): stop cleanly. A second Ctrl-C: quit at once (still nothing torn)."""
    def handler(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        print("\nbatch: stopping: answers in progress are abandoned, finished ones are saved "
              "(Ctrl-C again to quit at once)", file=err, flush=True)

    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}


def _print_summary(s: RunSummary, command: str, err) -> None:
    print(f"batch: {s.total} items: {s.skipped} done before, {s.ok} answered, {s.failed} failed; "
          f"{s.tokens_in:,} tokens in, {s.tokens_out:,} out in {s.elapsed_s:.1f} s "
          f"({s.items_per_s:.2f} items/s, {s.tokens_per_s:,.0f} tokens/s)", file=err)
    if s.repaired_bytes:
        print(f"batch: removed a torn last line ({s.repaired_bytes} bytes) left by an interrupted run",
              file=err)
    if s.failures:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(s.failures.items()))
        print(f"batch: failures by kind: {kinds}; re-running retries them", file=err)
    if s.stop_reason:
        print(f"batch: {s.stop_reason}", file=err)
    if s.stopped:
        left = s.total - s.skipped - s.ok
        print(f"batch: stopped with {left} item(s) left; nothing is lost. Resume with:\n  {command}",
              file=err)
    print(f"batch: results in {s.out_dir / 'results.jsonl'}; report: batch report --out "
          f"{shlex.quote(str(s.out_dir))}", file=err)


def _options(args: argparse.Namespace, settings: Settings) -> BatchOptions:
    return BatchOptions(collection=args.collection, mode=args.mode, doc_ids=tuple(args.doc_ids),
                        filters=_filters(args), concurrency=args.concurrency, max_tokens=args.max_tokens,
                        temperature=args.temperature, budget=settings.budget, k=args.k,
                        reuse_prefix=args.reuse_prefix)


def run(args: argparse.Namespace, settings: Settings, command: list[str], err=None, backend=None,
        embedder=None) -> int:
    """``batch run``; returns the exit code. Everything checkable is checked before a model loads.
    ``backend`` and ``embedder`` reuse already built ones (tests, the benchmark)."""
    err = err or sys.stderr
    stop = threading.Event()
    try:
        questions = load_questions(args.questions)
        options = _options(args, settings)
        check_collection(settings.data_dir, args.collection)
        backend = backend or build_backend(settings)
        if embedder is None:  # retrieval needs it; per-document evidence is better with it
            from ingest.embed import Embedder

            embedder = Embedder(settings.embed_model)
        previous = _install_stop(stop, err)
        try:
            summary = run_batch(settings.data_dir, backend, questions, options, args.out, embedder=embedder,
                                stop=stop, progress=args.progress, command=command)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    except (QuestionFileError, ResultsError, BadFilter, ValueError) as e:
        print(f"batch: {e}", file=err)
        return EXIT_USAGE
    except (QAError, BatchError) as e:
        print(f"batch: {e}", file=err)
        return EXIT_FOR_KIND.get(e.kind, EXIT_USAGE)
    except KeyboardInterrupt:  # the second Ctrl-C: every record on disk is still whole
        print(f"\nbatch: quit. Resume with:\n  {shlex.join(command)}", file=err)
        return EXIT_STOPPED
    _print_summary(summary, shlex.join(command), err)
    if summary.stopped:
        return EXIT_MODEL if summary.stop_reason else EXIT_STOPPED
    return EXIT_OK if summary.failed == 0 else EXIT_FAILED


def report(args: argparse.Namespace, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        written = write_report(args.out, csv_path=args.csv, html_path=args.html)
    except (FileNotFoundError, ResultsError) as e:
        print(f"batch: {e}", file=err)
        return EXIT_NOT_FOUND if isinstance(e, FileNotFoundError) else EXIT_USAGE
    for path in written:
        print(path, file=out)
    return EXIT_OK


def check(args: argparse.Namespace, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        questions = load_questions(args.questions)
    except QuestionFileError as e:
        print(f"batch: {e}", file=err)
        return EXIT_USAGE
    for q in questions:
        print(f"{q.id}\t{q.format.kind}\t{q.text}", file=out)
    print(f"{len(questions)} question(s) OK", file=err)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.command == "report":
        return report(args)
    if args.command == "check":
        return check(args)
    try:
        settings = Settings.from_args(args)
    except ValueError as e:
        print(f"batch: {e}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return run(args, settings, ["batch", *argv])


if __name__ == "__main__":
    sys.exit(main())
