"""CLI: ``python -m ingest.samples generate --out DIR [--seed 7] [--scale 1]``."""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

from .generate import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingest.samples", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the synthetic corpus and question set")
    gen.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    gen.add_argument("--seed", type=int, default=7, help="RNG seed; same seed, identical bytes")
    gen.add_argument("--scale", type=int, default=1, help="multiply the number of patients (benchmarks)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    start = time.perf_counter()
    manifest = generate(args.out, seed=args.seed, scale=args.scale)
    seconds = time.perf_counter() - start
    sizes = [f.bytes for f in manifest.files if f.path.startswith("patients/")]
    print(
        f"wrote {manifest.n_patients} patients, {manifest.n_reference} reference docs, "
        f"{manifest.n_questions} questions to {args.out} ({manifest.total_bytes / 1e6:.2f} MB) "
        f"in {seconds:.2f}s"
    )
    median = round(statistics.median(sizes))
    print(f"patient history bytes: min {min(sizes)}, median {median}, max {max(sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
