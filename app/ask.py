"""``ask``: answer a question over a collection from the terminal.

A thin shell over ``QAService``: parse flags, stream the answer to stdout, then list the sources with
their evidence passages (or print one JSON object with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap

from app.service import QAError, QAService, build_service, check_collection
from app.settings import Settings, add_arguments
from app.types import RANDOM_WEIGHTS_LABEL, Answer, AnswerDone, RetrievalDone, TextDelta
from model.sampling import SamplingParams
from retrieval.filters import Filters

# Exit codes: one per thing a script might want to react to.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_MODEL, EXIT_TOO_LONG = 0, 1, 2, 3, 4, 5
EXIT_FOR_KIND = {"bad_input": EXIT_USAGE, "not_found": EXIT_NOT_FOUND, "model_unavailable": EXIT_MODEL,
                 "too_long": EXIT_TOO_LONG}

EPILOG = """examples:
  ask "What dose of lisinopril was Maria Lopez on in 2019?" --collection samples
  ask "Summarize the HbA1c trend" --collection samples --doc P0007 --budget 32000
  ask "Which patients have a penicillin allergy?" --collection samples --server http://127.0.0.1:8000/v1
  ask "..." --collection samples --json | jq .citations

exit codes: 0 answered; 1 the model failed mid-answer (partial text kept); 2 bad input (empty question,
bad flag); 3 unknown collection or document id; 4 model or server unavailable; 5 prompt over the context.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="ask", description=__doc__.splitlines()[0].replace("``", ""),
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("question")
    p.add_argument("--collection", "-c", required=True, help="collection to search")
    p.add_argument("--doc", dest="doc_ids", action="append", metavar="ID",
                   help="read this document (repeatable); retrieval fills the rest of the budget")
    p.add_argument("--patient", help="only documents of this patient id")
    p.add_argument("--kind", help="only documents of this kind (e.g. patient_history, guideline)")
    p.add_argument("--date-from", help="only documents covering dates on or after YYYY-MM-DD")
    p.add_argument("--date-to", help="only documents covering dates on or before YYYY-MM-DD")
    p.add_argument("--k", type=int, default=20, help="documents to retrieve before packing")
    p.add_argument("--max-tokens", type=int, help="answer length in tokens (default 512; 64 for a "
                   "random-weights test model)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (reproducible)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of streaming text")
    add_arguments(p)
    return p.parse_args(argv)


def _filters(args: argparse.Namespace) -> Filters | None:
    f = Filters(patient_id=args.patient, kind=args.kind, date_from=args.date_from, date_to=args.date_to)
    return f if f.active else None


def _print_sources(answer: Answer, out) -> None:
    """Sources after the streamed answer: each cited document, its validity, its evidence passages."""
    print("\nSources:", file=out)
    if not answer.citations:
        print("  (none)", file=out)
    for c in answer.citations:
        status = "cited" if c.source == "model" else "from retrieval (the answer cited nothing valid)"
        if not c.valid:
            status = "INVALID: not among the documents the model read"
        print(f"  [{c.doc_id}] {c.title} ({status})", file=out)
        for s in c.spans:
            passage = textwrap.shorten(" ".join(s.text.split()), 300, placeholder=" …")
            print(f"      chars {s.start}-{s.end}: \"{passage}\"", file=out)
    p = answer.packed
    print(f"\nRead {len(p.documents)} document(s), {p.prompt_tokens:,} prompt tokens of a "
          f"{p.budget:,} budget; {len(p.dropped)} dropped.", file=out)
    for note in p.notes:
        print(f"  {note}", file=out)
    t = answer.timings
    speed = f", {t.tokens_per_s:.1f} tokens/s" if t.tokens_per_s else ""
    ttft = f", first token {t.ttft_ms:.0f} ms" if t.ttft_ms is not None else ""
    print(f"Retrieval {t.retrieval_ms:.0f} ms{ttft}{speed}; total {t.total_ms / 1000:.1f} s.", file=out)


def _params(args: argparse.Namespace, service: QAService) -> SamplingParams | None:
    if not args.max_tokens and not args.temperature:
        return None  # the service's defaults
    max_tokens = args.max_tokens or service.default_params().max_tokens
    return SamplingParams(max_tokens=max_tokens, temperature=args.temperature)


def _stream(service: QAService, args: argparse.Namespace, settings: Settings, out) -> Answer:
    events = service.ask(args.question, args.collection, doc_ids=args.doc_ids, filters=_filters(args),
                         budget=settings.budget, params=_params(args, service))
    for event in events:
        if isinstance(event, RetrievalDone) and not args.json and service.backend.random_weights:
            # The evidence leads: it is the useful part when the model is the random-weights test model.
            print(event.evidence_answer + f"\n\n[{RANDOM_WEIGHTS_LABEL}]\n", file=out, flush=True)
        elif isinstance(event, TextDelta) and not args.json:
            print(event.text, end="", file=out, flush=True)
        elif isinstance(event, AnswerDone):
            return event.answer
    raise RuntimeError("the service ended without an answer")


def run(args: argparse.Namespace, settings: Settings, out=None, err=None,
        service: QAService | None = None) -> int:
    """Answer one question; returns the exit code. Bad input is reported before any model loads.
    ``service`` reuses an already built service (tests, a long-lived process); else one is built."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if not args.question.strip():
            raise QAError("bad_input", "the question is empty; type a question")
        check_collection(settings.data_dir, args.collection)
        if service is None:
            service = build_service(settings, k=args.k)
        else:
            service.k = args.k
        answer = _stream(service, args, settings, out)
    except QAError as e:
        print(f"ask: {e}", file=err)
        return EXIT_FOR_KIND.get(e.kind, EXIT_USAGE)
    except ValueError as e:  # a bad flag value (a malformed date, a negative budget)
        print(f"ask: {e}", file=err)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2), file=out)
    else:
        print(file=out)
        _print_sources(answer, out)
    if not answer.ok:
        print(f"ask: the answer is incomplete: {answer.error}", file=err)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.from_args(args)
    except ValueError as e:
        print(f"ask: {e}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.DEBUG if settings.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return run(args, settings)


if __name__ == "__main__":
    sys.exit(main())
