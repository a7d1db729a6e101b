"""Benchmark: generation time and corpus shape at scale 1 and scale 10, side by side.

``python -m ingest.samples.bench [--tokenizer PATH ...]``. The baseline column is what perfectly linear
scaling from scale 1 would give (10x for sizes and counts, unchanged for per-document lengths). Token
counts of the two longest histories use real tokenizer files when given.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from .cohort import LONG_MIN_CHARS
from .generate import generate

# Quantities that should grow 10x with --scale 10; the rest (lengths, question count) should not.
EXTENSIVE = ("seconds", "MB", "patients", "docs >= 360K chars")


def _measure(scale: int, out: Path) -> dict[str, float]:
    start = time.perf_counter()
    manifest = generate(out, seed=7, scale=scale)
    seconds = time.perf_counter() - start
    chars = sorted(len(p.read_text(encoding="utf-8")) for p in (out / "patients").glob("*.md"))
    return {
        "seconds": seconds,
        "MB": manifest.total_bytes / 1e6,
        "patients": manifest.n_patients,
        "questions": manifest.n_questions,
        "min chars": chars[0],
        "median chars": statistics.median(chars),
        "max chars": chars[-1],
        "docs >= 360K chars": sum(c >= LONG_MIN_CHARS for c in chars),
    }


def _token_counts(out: Path, tokenizer_files: list[Path]) -> None:
    from tokenizers import Tokenizer

    longest = sorted((out / "patients").glob("*.md"), key=lambda p: p.stat().st_size)[-2:]
    for path in tokenizer_files:
        tok = Tokenizer.from_file(str(path))
        tok.no_truncation()
        for doc in longest:
            text = doc.read_text(encoding="utf-8")
            n = len(tok.encode(text).ids)
            print(f"{doc.stem}: {len(text)} chars, {n} tokens with {path} (len/4 = {len(text) // 4})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokenizer", type=Path, action="append", default=[], help="a tokenizer.json file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = _measure(1, Path(tmp) / "s1")
        ten = _measure(10, Path(tmp) / "s10")
        print(f"{'':22s} {'scale 1':>12s} {'scale 10':>12s} {'linear from 1':>14s}")
        for key in one:
            expected = one[key] * (10 if key in EXTENSIVE else 1)
            print(f"{key:22s} {one[key]:12.2f} {ten[key]:12.2f} {expected:14.2f}")
        _token_counts(Path(tmp) / "s1", args.tokenizer)


if __name__ == "__main__":
    main()
