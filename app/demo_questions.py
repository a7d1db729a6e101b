"""Print a few questions from a question set, one per line: the demo's end-to-end examples.

One of each kind the set has (a fact, a timeline, a question over several patients, a reference
question, a "not documented" one), in a fixed order, so the demo shows each behaviour once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KINDS = ("timeline", "fact", "multi_patient", "reference", "not_documented")


def pick(path: Path, kinds=KINDS) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    first = {}
    for row in rows:
        first.setdefault(row["type"], row["question"])
    return [first[k] for k in kinds if k in first]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m app.demo_questions QUESTIONS.jsonl", file=sys.stderr)
        return 2
    for question in pick(Path(argv[0])):
        print(question)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
