"""The sample corpus: deterministic, sized as promised, parseable, and its question set is honest."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from ingest.samples import build_corpus, generate
from ingest.samples.__main__ import main
from ingest.samples.cohort import LONG_MIN_CHARS

PATIENT_KEYS = {
    "doc_id",
    "title",
    "kind",
    "patient_id",
    "name",
    "birth_date",
    "sex",
    "first_date",
    "last_date",
}
QUESTION_KEYS = {"id", "question", "type", "gold_doc_ids", "gold_answer", "gold_facts"}
TYPES = {"fact", "timeline", "multi_patient", "not_documented", "reference", "paraphrase"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    generate(out, seed=7, scale=1)
    return out


def _texts(root: Path) -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(root.glob("*/*.md"))}


def _questions(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "questions.jsonl").read_text(encoding="utf-8").splitlines()]


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text[4 : text.index("\n---\n", 4)])


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(corpus, tmp_path):
    generate(tmp_path / "again", seed=7)
    assert _all_bytes(tmp_path / "again") == _all_bytes(corpus)
    generate(tmp_path / "other", seed=8)
    other = _all_bytes(tmp_path / "other")
    assert other["patients/P0001.md"] != _all_bytes(corpus)["patients/P0001.md"]
    assert other["questions.jsonl"] != _all_bytes(corpus)["questions.jsonl"]


def test_at_least_forty_patients_with_distinct_names(corpus):
    patients = [_front_matter(t) for t in _texts(corpus).values() if t.count('kind: "patient_history"')]
    assert len(patients) >= 40
    assert [p["doc_id"] for p in patients] == [f"P{i:04d}" for i in range(1, len(patients) + 1)]
    assert len({p["name"] for p in patients}) == len(patients)


def test_lengths_span_2k_tokens_to_over_100k_and_total_stays_small(corpus):
    sizes = sorted(len(t) for p, t in _texts(corpus).items() if p.startswith("P"))
    assert 7_000 <= sizes[0] <= 12_000  # ~2K tokens at 4 chars per token
    assert sum(s >= LONG_MIN_CHARS for s in sizes) >= 2
    regular = [s for s in sizes if s < LONG_MIN_CHARS]
    assert max(regular) <= 200_000 and sum(s <= 170_000 for s in regular) == len(regular)
    assert sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file()) < 4_000_000


def test_front_matter_parses_and_has_required_keys(corpus):
    for stem, text in _texts(corpus).items():
        meta = _front_matter(text)
        assert meta["doc_id"] == stem and not re.search(r"[\s\[\]]", stem)
        assert {"doc_id", "title", "kind"} <= meta.keys()
        if meta["kind"] == "patient_history":
            assert meta.keys() >= PATIENT_KEYS and meta["patient_id"] == stem
            assert all(isinstance(meta[k], str) for k in ("birth_date", "first_date", "last_date"))
            assert (
                date.fromisoformat(meta["birth_date"])
                < date.fromisoformat(meta["first_date"])
                <= date.fromisoformat(meta["last_date"])
            )
        else:
            assert meta["kind"] in ("guideline", "monograph") and stem.startswith("ref-")
    assert 6 <= sum(s.startswith("ref-") for s in _texts(corpus)) <= 8


def test_histories_are_chronological_and_read_like_clinic_notes(corpus):
    for stem, text in _texts(corpus).items():
        if stem.startswith("P"):
            days = re.findall(r"^### (\d{4}-\d{2}-\d{2}) ", text, flags=re.M)
            assert days == sorted(days) and len(days) >= 4
            meta = _front_matter(text)
            assert days[0] == meta["first_date"] and days[-1] == meta["last_date"]
    everything = "\n".join(_texts(corpus).values())
    for phrase in (
        "c/o",
        "f/u",
        "denies",
        "PRN",
        "BID",
        "A/P:",
        "HbA1c",
        "mg/dL",
        "Allergies",
        "Immunizations",
        "Family history",
        "Social history",
        "Procedures:",
    ):
        assert phrase in everything


def test_question_set_schema_and_coverage(corpus):
    questions = _questions(corpus)
    assert len(questions) >= 60
    assert all(set(q) == QUESTION_KEYS for q in questions)
    assert len({q["id"] for q in questions}) == len(questions)
    assert {q["type"] for q in questions} == TYPES
    for q in questions:
        if q["type"] == "not_documented":
            assert q["gold_facts"] == [] and len(q["gold_doc_ids"]) == 1
            assert q["gold_answer"].lower().startswith("not documented")
        else:
            assert q["gold_facts"]
        if q["type"] == "multi_patient":
            assert 2 <= len(q["gold_doc_ids"]) <= 4


def test_every_gold_fact_occurs_in_a_gold_document(corpus):
    texts = _texts(corpus)
    for q in _questions(corpus):
        assert all(d in texts for d in q["gold_doc_ids"]), q
        for fact in q["gold_facts"]:
            assert any(fact in texts[d] for d in q["gold_doc_ids"]), (q["id"], fact)


def test_fact_questions_name_the_patient(corpus):
    texts = _texts(corpus)
    for q in _questions(corpus):
        if q["type"] in ("fact", "timeline", "not_documented"):
            names = [_front_matter(texts[d])["name"] for d in q["gold_doc_ids"] if d.startswith("P")]
            assert any(n in q["question"] for n in names), q


def test_which_patients_questions_have_exact_answers(corpus):
    """The distinctive term of a "which patients" question occurs in every gold record and in no other."""
    texts = _texts(corpus)
    cohort = [q for q in _questions(corpus) if q["question"].startswith("Which patients")]
    assert len(cohort) >= 4
    for q in cohort:
        term = q["gold_facts"][0]
        having = {d for d, t in texts.items() if d.startswith("P") and term in t}
        assert having == set(q["gold_doc_ids"]), q


def test_some_questions_need_evidence_deep_inside_a_long_history(corpus):
    texts = _texts(corpus)
    deep = 0
    for q in _questions(corpus):
        doc = q["gold_doc_ids"][0]
        if len(q["gold_doc_ids"]) == 1 and len(texts[doc]) >= LONG_MIN_CHARS and q["gold_facts"]:
            first = min(texts[doc].index(f) for f in q["gold_facts"])
            deep += first > 0.2 * len(texts[doc])
    assert deep >= 3


def test_manifest_is_complete_and_matches_the_files(corpus):
    manifest = json.loads((corpus / "MANIFEST.json").read_text())
    assert manifest["seed"] == 7 and manifest["scale"] == 1
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {k: v for k, v in _all_bytes(corpus).items() if k != "MANIFEST.json"}
    assert set(listed) == set(on_disk)
    for path, data in on_disk.items():
        assert listed[path]["bytes"] == len(data)
        assert listed[path]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["n_questions"] == len(_questions(corpus))


def test_simulated_care_is_clinically_coherent():
    """HbA1c falls after metformin starts; nobody stays on metformin below eGFR 30."""
    histories, _, _ = build_corpus(seed=7, scale=1)
    falls, starts = 0, 0
    for h in histories:
        encs = h.encounters
        for i, e in enumerate(encs):
            egfr = e.lab("egfr")
            if egfr is not None and round(egfr) < 30:
                assert all(m.drug != "metformin" for m in e.meds), (h.patient.pid, e.day)
            if any(c.action == "started" and c.med.drug == "metformin" for c in e.changes) and e.lab("hba1c"):
                later = [
                    x.lab("hba1c")
                    for x in encs[i + 1 :]
                    if 60 <= (x.day - e.day).days <= 300 and x.lab("hba1c")
                ]
                if later:
                    starts += 1
                    falls += later[0] < e.lab("hba1c")
    assert starts >= 3 and falls >= 0.8 * starts


def test_rerun_at_a_smaller_scale_removes_stale_files(tmp_path):
    generate(tmp_path, seed=7, scale=2)
    assert len(list((tmp_path / "patients").glob("*.md"))) == 84
    generate(tmp_path, seed=7, scale=1)
    assert len(list((tmp_path / "patients").glob("*.md"))) == 42
    assert json.loads((tmp_path / "MANIFEST.json").read_text())["scale"] == 1


@pytest.mark.slow
def test_scale_ten_writes_ten_times_the_patients(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), "--scale", "10"]) == 0
    assert "420 patients" in capsys.readouterr().out
    assert len(list((tmp_path / "patients").glob("*.md"))) == 420
    assert sum(len(p.read_text()) >= LONG_MIN_CHARS for p in (tmp_path / "patients").glob("*.md")) >= 20
