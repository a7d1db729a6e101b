"""The question set: questions a clinician would ask, with gold documents, answers and literal facts.

Every question is built from the simulated record (not by parsing text), and every gold fact is produced
by the same formatter the renderer used, so it occurs verbatim in a gold document. ``check`` verifies
that anyway, and the generator refuses to write a question set that fails it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date

from .clinical import LABS, fmt_bp, fmt_value
from .history import History
from .lay import QUESTIONS as LAY_QUESTIONS
from .patient import Encounter, Episode
from .reference import QUESTIONS as REFERENCE_QUESTIONS
from .vocab import RARE_FAMILY

TYPES = ("fact", "timeline", "multi_patient", "not_documented", "reference", "paraphrase")
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
FAMILY_TERMS = {f: f.split(" with ", 1)[1] for f in RARE_FAMILY}
# (drug started for a condition, marker) pairs for "before and after" questions
BEFORE_AFTER = [
    ("metformin", "hba1c"),
    ("atorvastatin", "ldl"),
    ("levothyroxine", "tsh"),
    ("lisinopril", "sbp"),
    ("sertraline", "phq9"),
    ("tiotropium", "cat"),
    ("carvedilol", "bnp"),
    ("fluticasone HFA", "act"),
]
# Absent topics: (terms that must not occur in the record, question, what is missing, female only)
ABSENT = [
    (("colonoscopy",), "What did {name}'s most recent colonoscopy show?", "colonoscopy", False),
    (("warfarin",), "What warfarin dose was {name} maintained on?", "warfarin therapy", False),
    (("Shingrix", "zoster"), "When did {name} receive the shingles vaccine?", "zoster vaccination", False),
    (
        ("echocardiogram", "LVEF"),
        "What was {name}'s ejection fraction on echocardiogram?",
        "echocardiogram",
        False,
    ),
    (("insulin",), "What insulin regimen is {name} on?", "insulin therapy", False),
    (("INR",), "What was {name}'s last INR?", "INR result", False),
    (("DEXA", "T-score"), "What did {name}'s bone density scan show?", "bone density scan", True),
    (("mammogram",), "What was the result of {name}'s last mammogram?", "mammogram", True),
    (("TSH",), "What was {name}'s most recent TSH?", "TSH result", False),
    (
        ("spirometry", "FEV1"),
        "What did {name}'s pulmonary function tests show?",
        "pulmonary function testing",
        False,
    ),
    (("HbA1c",), "What was {name}'s HbA1c?", "HbA1c result", False),
    (("pneumococcal",), "When did {name} get a pneumococcal vaccine?", "pneumococcal vaccination", False),
    (("Hospital day", "ICU day"), "When was {name} last hospitalized, and why?", "hospitalization", False),
    (("sertraline", "PHQ-9"), "What dose of sertraline is {name} taking?", "sertraline therapy", False),
]

Question = dict  # {"id", "question", "type", "gold_doc_ids", "gold_answer", "gold_facts"}


def _q(kind: str, question: str, docs: list[str], answer: str, facts: list[str]) -> Question:
    return {
        "question": question,
        "type": kind,
        "gold_doc_ids": docs,
        "gold_answer": answer,
        "gold_facts": facts,
    }


def _month(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {d.year}"


def _marker(enc: Encounter, key: str) -> str | None:
    if key == "sbp":
        return fmt_bp(enc.vitals["sbp"], enc.vitals["dbp"])
    value = enc.lab(key)
    return None if value is None else fmt_value(key, value)


# --- single-patient facts -----------------------------------------------------------------------------


def dose_in_year(h: History, rng: random.Random) -> Question | None:
    """A drug whose dose did not change through a whole calendar year of visits."""
    by_year: dict[int, list[Encounter]] = {}
    for e in h.encounters:
        if not e.inpatient:
            by_year.setdefault(e.day.year, []).append(e)
    options = []
    for year, encs in by_year.items():
        if len(encs) < 2:
            continue
        for med in encs[0].meds:
            same = all(any(m == med for m in e.meds) for e in encs)
            changed = any(c.med.drug == med.drug for e in encs for c in e.changes)
            if same and not changed and "x" not in med.freq:
                options.append((year, med))
    if not options:
        return None
    year, med = rng.choice(options)
    q = rng.choice(
        [
            "What dose of {drug} was {name} taking in {year}?",
            "What was {name}'s {drug} dose in {year}?",
            "In {year}, how much {drug} was {name} prescribed?",
        ]
    )
    return _q(
        "fact",
        q.format(drug=med.drug, name=h.patient.name, year=year),
        [h.patient.pid],
        f"{med} (unchanged through {year}).",
        [med.drug_dose],
    )


def diagnosis_date(h: History, rng: random.Random) -> Question | None:
    found = [(e, dx) for e in h.encounters for dx in e.new_dx if "(" in dx]
    if not found:
        return None
    enc, dx = rng.choice(found)
    name = dx.split(" (")[0]
    spoken = name.split(",")[0]
    spoken = spoken[0].lower() + spoken[1:] if spoken[1:2].islower() else spoken
    q = rng.choice(
        ["When was {name} diagnosed with {dx}?", "On what date was {dx} first diagnosed in {name}?"]
    )
    return _q(
        "fact",
        q.format(name=h.patient.name, dx=spoken),
        [h.patient.pid],
        f"{enc.day.isoformat()} ({name}).",
        [enc.day.isoformat(), dx],
    )


def stop_reason(h: History, rng: random.Random) -> Question | None:
    found = [
        (e, c)
        for e in h.encounters
        for c in e.changes
        if c.action == "stopped" and "completed" not in c.reason and "stepped up" not in c.reason
    ]
    if not found:
        return None
    enc, c = rng.choice(found)
    q = rng.choice(["Why was {name}'s {drug} stopped?", "What led to {drug} being discontinued for {name}?"])
    return _q(
        "fact",
        q.format(name=h.patient.name, drug=c.med.drug),
        [h.patient.pid],
        f"Stopped on {enc.day.isoformat()}: {c.reason}.",
        [enc.day.isoformat(), c.reason],
    )


def procedure_result(h: History, rng: random.Random) -> Question | None:
    found = [(e, n, f) for e in h.encounters for n, f in e.procedures]
    unique = [
        (e, n, f)
        for e, n, f in found
        if sum(1 for x in found if x[1] == n and x[0].day.year == e.day.year) == 1
    ]
    if not unique:
        return None
    enc, name, finding = rng.choice(unique)
    q = rng.choice(
        [
            "What did {name}'s {proc} in {year} show?",
            "What was the result of the {proc} {name} had in {year}?",
        ]
    )
    return _q(
        "fact",
        q.format(name=h.patient.name, proc=name, year=enc.day.year),
        [h.patient.pid],
        f"{finding} ({enc.day.isoformat()}).",
        [finding],
    )


def lab_at_visit(h: History, rng: random.Random) -> Question | None:
    found = [
        (e, k, v)
        for e in h.encounters
        if not e.inpatient
        for k, v in e.labs
        if k in ("hba1c", "ldl", "tsh", "egfr", "potassium", "bnp", "uacr", "inr")
    ]
    if not found:
        return None
    enc, key, value = rng.choice(found)
    d = enc.day
    q = rng.choice(
        [
            "What was {name}'s {lab} at the {month} {day}, {year} visit?",
            "What {lab} value was recorded for {name} on {iso}?",
        ]
    )
    label = LABS[key].label
    label = label[0].lower() + label[1:] if label[1:2].islower() else label
    text = q.format(
        name=h.patient.name, lab=label, month=MONTHS[d.month - 1], day=d.day, year=d.year, iso=d.isoformat()
    )
    return _q(
        "fact", text, [h.patient.pid], f"{fmt_value(key, value)} on {d.isoformat()}.", [fmt_value(key, value)]
    )


def allergy_reaction(h: History, rng: random.Random) -> Question | None:
    common = [(a, r) for a, r in h.patient.allergies if (a, r) != h.patient.rare.get("allergy")]
    if not common:
        return None
    allergen, reaction = rng.choice(common)
    q = rng.choice(["What reaction has {name} had to {a}?", "What happens when {name} takes {a}?"])
    return _q(
        "fact",
        q.format(name=h.patient.name, a=allergen),
        [h.patient.pid],
        f"{reaction[0].upper()}{reaction[1:]} ({allergen} allergy).",
        [f"{allergen}: {reaction}"],
    )


def switched_drug(h: History, rng: random.Random) -> Question | None:
    for e in h.encounters:
        for c in e.changes:
            if c.action == "started" and c.reason.startswith("in place of"):
                old = c.reason.split()[3]
                q = f"Why was {h.patient.name} switched from {old} to {c.med.drug}?"
                why = c.reason.split("(", 1)[1].rstrip(")")
                return _q(
                    "fact",
                    q,
                    [h.patient.pid],
                    f"{why.capitalize()} on {old}; switched on {e.day.isoformat()}.",
                    [why, e.day.isoformat()],
                )
    return None


FACT_BUILDERS: list[Callable[[History, random.Random], Question | None]] = [
    dose_in_year,
    diagnosis_date,
    stop_reason,
    procedure_result,
    lab_at_visit,
    allergy_reaction,
    switched_drug,
]


# --- timelines ----------------------------------------------------------------------------------------


def before_after(h: History, rng: random.Random) -> Question | None:
    options = []
    for drug, key in BEFORE_AFTER:
        starts = [
            i
            for i, e in enumerate(h.encounters)
            for c in e.changes
            if c.action == "started" and c.med.drug == drug
        ]
        if not starts:
            continue
        i = starts[0]
        before = next(
            (e for e in reversed(h.encounters[: i + 1]) if _marker(e, key) and not e.inpatient), None
        )
        wait = 21 if key == "sbp" else 60
        after = next(
            (
                e
                for e in h.encounters[i + 1 :]
                if (e.day - h.encounters[i].day).days >= wait and _marker(e, key) and not e.inpatient
            ),
            None,
        )
        if before and after:
            options.append((drug, key, h.encounters[i], before, after))
    if not options:
        return None
    drug, key, start, before, after = rng.choice(options)
    label = "blood pressure" if key == "sbp" else LABS[key].label
    q = rng.choice(
        [
            "What was {name}'s {label} before and after starting {drug}?",
            "How did {name}'s {label} change once {drug} was started?",
        ]
    )
    b, a = _marker(before, key), _marker(after, key)
    if before.day == start.day:
        first = f"{b} on {before.day.isoformat()}, the day {drug} was started"
    else:
        first = f"{b} on {before.day.isoformat()}, before {drug} was started on {start.day.isoformat()}"
    answer = f"{first}; {a} on {after.day.isoformat()} after."
    return _q(
        "timeline",
        q.format(name=h.patient.name, label=label, drug=drug),
        [h.patient.pid],
        answer,
        [b, a, start.day.isoformat()],
    )


def dose_history(h: History, rng: random.Random) -> Question | None:
    by_drug: dict[str, list[tuple[date, str]]] = {}
    for e in h.encounters:
        for c in e.changes:
            if "x" not in c.med.freq:
                by_drug.setdefault(c.med.drug, []).append((e.day, str(c)))
    options = [(d, ch) for d, ch in by_drug.items() if 2 <= len(ch) <= 5]
    if not options:
        return None
    drug, changes = rng.choice(options)
    q = rng.choice(
        [
            "List the changes to {name}'s {drug} in order, with dates.",
            "Trace {name}'s {drug} dosing over time.",
        ]
    )
    answer = "; ".join(f"{d.isoformat()}: {text}" for d, text in changes) + "."
    return _q(
        "timeline",
        q.format(name=h.patient.name, drug=drug),
        [h.patient.pid],
        answer,
        [d.isoformat() for d, _ in changes],
    )


def egfr_trend(h: History, rng: random.Random) -> Question | None:
    values = [(e.day, v) for e in h.encounters if not e.inpatient for k, v in e.labs if k == "egfr"]
    if len(values) < 3:
        return None
    (d0, v0), (d1, v1) = values[0], values[-1]
    q = rng.choice(
        [
            "How has {name}'s kidney function (eGFR) changed over the record?",
            "Compare {name}'s first and most recent eGFR.",
        ]
    )
    return _q(
        "timeline",
        q.format(name=h.patient.name),
        [h.patient.pid],
        f"eGFR {fmt_value('egfr', v0)} on {d0.isoformat()}; {fmt_value('egfr', v1)} on {d1.isoformat()}.",
        [fmt_value("egfr", v0), fmt_value("egfr", v1), d0.isoformat(), d1.isoformat()],
    )


TIMELINE_BUILDERS = [before_after, before_after, dose_history, egfr_trend]


# --- the two long courses: evidence deep inside the record --------------------------------------------


def long_course_questions(h: History) -> Iterator[Question]:
    name, pid = h.patient.name, [h.patient.pid]
    eps = h.episodes
    for ep in [e for e in eps if e.kind == "sepsis"][:2]:
        yield _q(
            "fact",
            f"What organism grew in {name}'s cultures during the {_month(ep.start)} admission for "
            "septic shock?",
            pid,
            f"{ep.facts['organism']}.",
            [ep.facts["organism"]],
        )
        yield _q(
            "fact",
            f"What was {name}'s lactate on admission for septic shock in {_month(ep.start)}?",
            pid,
            f"{ep.facts['lactate']} on {ep.facts['admit']}.",
            [ep.facts["lactate"], ep.facts["admit"]],
        )
    for ep in [e for e in eps if e.kind == "copd"][1:2]:
        yield _q(
            "fact",
            f"On what date was {name} extubated during the {_month(ep.start)} ICU stay for a COPD "
            "exacerbation?",
            pid,
            f"{ep.facts['extubated']}.",
            [ep.facts["extubated"]],
        )
    for ep in [e for e in eps if e.kind == "adhf"][:1]:
        yield _q(
            "timeline",
            f"When was {name} admitted and discharged for heart failure in {_month(ep.start)}?",
            pid,
            f"Admitted {ep.facts['admit']}, discharged {ep.facts['discharge']}.",
            [ep.facts["admit"], ep.facts["discharge"]],
        )
    by_kind: dict[str, Episode] = {e.kind: e for e in eps}
    if "FOLFOX" in by_kind:
        f = by_kind["FOLFOX"].facts
        yield _q(
            "fact",
            f"At which FOLFOX cycle was {name}'s oxaliplatin dose reduced, and why?",
            pid,
            f"Cycle {f['reduced_at']} of 12, for grade 2 peripheral neuropathy.",
            [f"FOLFOX cycle {f['reduced_at']} of 12", "grade 2 peripheral neuropathy"],
        )
        yield _q(
            "fact",
            f"Which FOLFOX cycle was delayed for {name}, and why?",
            pid,
            f"Cycle {f['delayed']}, delayed 1 week for ANC 1.10 K/uL.",
            [f"Cycle {f['delayed']} delayed 1 wk", "ANC 1.10 K/uL"],
        )
    if "hemicolectomy" in by_kind:
        yield _q(
            "fact",
            f"What was the pathologic stage of {name}'s colon cancer after surgery?",
            pid,
            "pT3 pN1b (3/18 LN+), stage IIIB.",
            ["pT3 pN1b (3/18 LN+)", "stage IIIB"],
        )
    if "colon cancer diagnosis" in by_kind and "recurrence" in by_kind:
        dx, rec = by_kind["colon cancer diagnosis"], by_kind["recurrence"]
        yield _q(
            "timeline",
            f"What was {name}'s CEA at the colon cancer diagnosis and at recurrence?",
            pid,
            f"{dx.facts['cea']} at diagnosis ({dx.start.isoformat()}); {rec.facts['cea']} at recurrence "
            f"({rec.start.isoformat()}).",
            [dx.facts["cea"], rec.facts["cea"]],
        )
        yield _q(
            "fact",
            f"What did imaging show when {name}'s colon cancer recurred?",
            pid,
            f"{rec.facts['ct']} ({rec.start.isoformat()}).",
            [rec.facts["ct"]],
        )


# --- several patients ---------------------------------------------------------------------------------


def _cohort_members(histories: list[History]) -> dict[tuple[str, str], list[History]]:
    """Planted rare attribute -> the patients whose record actually shows it."""
    out: dict[tuple[str, str], list[History]] = {}
    for h in histories:
        for kind, item in h.patient.rare.items():
            term = {"allergy": item[0], "procedure": item[0], "dx": item[0]}.get(kind) or FAMILY_TERMS[item]
            shown = kind in ("allergy", "family") or any(
                item[0] in n for e in h.encounters for n in [*(p for p, _ in e.procedures), *e.new_dx]
            )
            if shown:
                out.setdefault((kind, term), []).append(h)
    return out


def cohort_questions(histories: list[History]) -> Iterator[Question]:
    templates = {
        "allergy": "Which patients have a documented allergy to {t}?",
        "procedure": "Which patients have undergone {t}?",
        "dx": "Which patients have been diagnosed with {t}?",
        "family": "Which patients have a family history of {t}?",
    }
    for (kind, term), members in _cohort_members(histories).items():
        if 2 <= len(members) <= 4:
            names = [h.patient.name for h in members]
            yield _q(
                "multi_patient",
                templates[kind].format(t=term),
                [h.patient.pid for h in members],
                ", ".join(names) + ".",
                [term, *names],
            )


def compare_questions(histories: list[History], rng: random.Random, n: int) -> Iterator[Question]:
    for key, label, cond in (("hba1c", "HbA1c", "dm2"), ("ldl", "LDL-C", "hld"), ("egfr", "eGFR", "ckd"))[:n]:
        having = [
            h
            for h in histories
            if h.patient.long_course is None
            and cond in h.patient.conditions
            and sum(1 for e in h.encounters for k, _ in e.labs if k == key) >= 2
        ]
        if len(having) < 2:
            continue
        pair = rng.sample(having, 2)
        lasts = [
            next((e.day, v) for e in reversed(h.encounters) for k, v in e.labs if k == key) for h in pair
        ]
        a, b = pair
        parts = [
            f"{h.patient.name}: {fmt_value(key, v)} on {d.isoformat()}"
            for h, (d, v) in zip(pair, lasts, strict=True)
        ]
        answer = "; ".join(parts)
        yield _q(
            "multi_patient",
            f"Compare the most recent {label} of {a.patient.name} and {b.patient.name}.",
            [a.patient.pid, b.patient.pid],
            answer + ".",
            [fmt_value(key, v) for _, v in lasts],
        )


# --- not documented -----------------------------------------------------------------------------------


def absent_questions(histories: list[History], rng: random.Random, n: int) -> Iterator[Question]:
    """Questions about things a patient's record never mentions, spreading over as many topics as possible."""
    used = {what: 0 for _, _, what, _ in ABSENT}
    for h in rng.sample(histories, len(histories))[:n]:
        text = h.text.lower()
        options = [
            (q, what)
            for terms, q, what, female in ABSENT
            if not any(t.lower() in text for t in terms) and (not female or h.patient.sex == "female")
        ]
        if not options:
            continue
        fewest = min(used[what] for _, what in options)
        q, what = rng.choice([o for o in options if used[o[1]] == fewest])
        used[what] += 1
        yield _q(
            "not_documented",
            q.format(name=h.patient.name),
            [h.patient.pid],
            f"Not documented: {h.patient.name}'s record has no {what}.",
            [],
        )


# --- assembly -----------------------------------------------------------------------------------------


def _take(histories: list[History], builders: list, n: int, rng: random.Random) -> list[Question]:
    """Up to ``n`` questions, cycling through builders and patients, at most one per (patient, builder)."""
    out: list[Question] = []
    patients = rng.sample(histories, len(histories))
    for i in range(len(patients) * len(builders)):
        if len(out) >= n:
            break
        h, build = patients[i % len(patients)], builders[i % len(builders)]
        q = build(h, rng)
        if q and q["question"] not in {x["question"] for x in out}:
            out.append(q)
    return out


def build_questions(histories: list[History], seed: int) -> list[Question]:
    """The whole question set, in a stable order, with ids q001, q002, ..."""
    rng = random.Random(f"{seed}/questions")
    regular = [h for h in histories if h.patient.long_course is None]
    long = [h for h in histories if h.patient.long_course]
    questions: list[Question] = []
    questions += _take(regular, FACT_BUILDERS, 24, rng)
    for h in long[:2]:
        questions += list(long_course_questions(h))
        questions += [q for q in (dose_in_year(h, rng), before_after(h, rng), stop_reason(h, rng)) if q]
    questions += _take(regular, TIMELINE_BUILDERS, 14, rng)
    questions += list(cohort_questions(histories))
    questions += list(compare_questions(regular, rng, 2))
    questions += list(absent_questions(regular, rng, 12))
    questions += [
        _q("reference", r.question, list(r.doc_ids), r.answer, list(r.facts)) for r in REFERENCE_QUESTIONS
    ]
    questions += [
        _q("paraphrase", r.question, list(r.doc_ids), r.answer, list(r.facts)) for r in LAY_QUESTIONS
    ]
    return [{"id": f"q{i:03d}", **q} for i, q in enumerate(questions, 1)]


def check(questions: list[Question], texts: dict[str, str]) -> list[str]:
    """Problems with a question set: unknown gold ids, facts missing from every gold doc, bad types."""
    problems = []
    for q in questions:
        if q["type"] not in TYPES:
            problems.append(f"{q['id']}: unknown type {q['type']}")
        missing = [d for d in q["gold_doc_ids"] if d not in texts]
        if missing or not q["gold_doc_ids"]:
            problems.append(f"{q['id']}: unknown gold documents {missing}")
            continue
        for fact in q["gold_facts"]:
            if not any(fact in texts[d] for d in q["gold_doc_ids"]):
                problems.append(f"{q['id']}: fact {fact!r} not in {q['gold_doc_ids']}")
        if q["type"] == "not_documented" and q["gold_facts"]:
            problems.append(f"{q['id']}: not_documented question with gold facts")
    return problems
