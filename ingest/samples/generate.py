"""Write the sample corpus to disk: patient histories, reference documents, questions, then the manifest.

Output is a pure function of (seed, scale): same arguments, byte-identical files. Each file is written to a
temporary name and renamed into place, and MANIFEST.json is written last, so a folder with a manifest is
complete. Files listed by a previous manifest that this run does not produce are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import reference
from .cohort import plan_cohort
from .history import History, build_history
from .questions import build_questions, check

log = logging.getLogger(__name__)
MANIFEST = "MANIFEST.json"


@dataclass(frozen=True)
class ManifestFile:
    path: str  # POSIX, relative to the output folder
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    seed: int
    scale: int
    n_patients: int
    n_reference: int
    n_questions: int
    files: tuple[ManifestFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _previous_files(out_dir: Path) -> list[str]:
    try:
        return [f["path"] for f in json.loads((out_dir / MANIFEST).read_text())["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def build_corpus(seed: int = 7, scale: int = 1) -> tuple[list[History], dict[str, str], list[dict]]:
    """Everything in memory: histories, {relative path: text}, questions. Raises if a gold fact is missing."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    histories = [
        build_history(pl.patient, pl.first, pl.end, pl.target_chars, f"{seed}/{pl.patient.pid}", pl.planned)
        for pl in plan_cohort(seed, scale)
    ]
    texts = {f"patients/{h.patient.pid}.md": h.text for h in histories}
    texts |= {f"reference/{d.doc_id}.md": reference.render(d) for d in reference.DOCS}
    questions = build_questions(histories, seed)
    problems = check(questions, {Path(p).stem: t for p, t in texts.items()})
    if problems:
        raise RuntimeError("question set failed its own check: " + "; ".join(problems[:5]))
    return histories, texts, questions


def generate(out_dir: Path, seed: int = 7, scale: int = 1) -> Manifest:
    """Write the corpus under ``out_dir`` and return its manifest (also written, last, as MANIFEST.json)."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    histories, texts, questions = build_corpus(seed, scale)
    stale = _previous_files(out_dir)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # the folder is incomplete until the new manifest lands
    files = []
    lines = "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions)
    for rel, text in [*texts.items(), ("questions.jsonl", lines)]:
        data = text.encode("utf-8")
        _write(out_dir / rel, data)
        files.append(ManifestFile(rel, len(data), hashlib.sha256(data).hexdigest()))
    written = {f.path for f in files}
    for rel in stale:
        if rel not in written and not Path(rel).is_absolute() and ".." not in Path(rel).parts:
            (out_dir / rel).unlink(missing_ok=True)
    manifest = Manifest(seed, scale, len(histories), len(reference.DOCS), len(questions), tuple(files))
    _write(out_dir / MANIFEST, manifest.to_json().encode("utf-8"))
    log.info(
        "sample corpus: %d patients, %d reference docs, %d questions, %d bytes in %.2fs",
        manifest.n_patients,
        manifest.n_reference,
        manifest.n_questions,
        manifest.total_bytes,
        time.perf_counter() - start,
    )
    return manifest
