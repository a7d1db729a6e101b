"""Who is in the corpus: names, conditions, record spans, target lengths, planted rare attributes.

Lengths are spread on a log scale from ~2K to ~40K tokens (len/4) so every size is represented, plus two
very long histories (an ICU course and an oncology course) of 380K-400K characters: 110K-120K tokens with
the tiny checkpoint's tokenizer (3.4 chars per token on this corpus), so each needs a 100K+ token prompt
yet still fits whole into a 128K budget.
Rare attributes (a latex allergy, a TAVR, gout, ...) are planted in exactly 2-4 patients each so that
"which patients ..." questions have small, exact answers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from .conditions import CONDITIONS, PREVALENCE
from .oncology import Planned, oncology_plan
from .patient import Patient
from .vocab import (
    ALCOHOL,
    ALLERGIES,
    EXERCISE,
    FAMILY_HISTORY,
    FEMALE_FIRST,
    LAST,
    LIVING,
    MALE_FIRST,
    OCCUPATIONS,
    RARE_ALLERGIES,
    RARE_DIAGNOSES,
    RARE_FAMILY,
    RARE_PROCEDURES,
    TOBACCO,
)

RECORD_END = date(2024, 12, 31)  # the corpus is "as of" the end of 2024
REGULAR_PER_SCALE = 40
LONG_PER_SCALE = 2
MIN_CHARS, MAX_CHARS = 9_500, 160_000  # ~2K and ~40K tokens at 4 chars per token
LONG_CHARS = 380_000  # + up to 20K: 110K-120K tokens with the tiny tokenizer; fits a 128K budget whole
LONG_MIN_CHARS = 360_000  # what tests and benchmarks count as a long history
N_COHORTS = 8  # planted rare-attribute cohorts (multi_patient questions), whatever the scale


@dataclass
class PatientPlan:
    patient: Patient
    first: date
    end: date
    target_chars: int
    planned: list[Planned]


def _names(rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    """(sex, first, last) with distinct full names; surnames unique until the list runs out."""
    lasts: list[str] = []
    out, seen = [], set()
    while len(out) < n:
        if not lasts:
            lasts = rng.sample(LAST, len(LAST))
        sex = rng.choice(["female", "male"])
        first = rng.choice(FEMALE_FIRST if sex == "female" else MALE_FIRST)
        last = lasts.pop()
        if (first, last) not in seen:
            seen.add((first, last))
            out.append((sex, first, last))
    return out


def _social(rng: random.Random, age: int) -> dict[str, str]:
    quit_year, packs = rng.randint(1985, 2015), rng.randint(5, 45)
    tobacco = rng.choice(TOBACCO).format(quit=quit_year, packs=packs, ppd=rng.choice(["0.5", "1", "1.5"]))
    return {
        "tobacco": tobacco,
        "alcohol": rng.choice(ALCOHOL),
        "occupation": rng.choice(OCCUPATIONS),
        "living situation": rng.choice(LIVING),
        "exercise": rng.choice(EXERCISE),
    }


def _conditions(
    rng: random.Random, age: int, first: date, span: int
) -> tuple[dict[str, date], dict[str, int]]:
    keys = [k for k in PREVALENCE if CONDITIONS[k].min_age <= age + span // 365]
    weights = [PREVALENCE[k] for k in keys]
    n = rng.choices([1, 2, 3, 4], weights=[3, 4, 3, 2])[0]
    chosen: list[str] = []
    while len(chosen) < n:
        k = rng.choices(keys, weights=weights)[0]
        if k not in chosen:
            chosen.append(k)
    dx, steps = {}, {}
    for k in chosen:
        if rng.random() < 0.45:
            dx[k] = first - timedelta(days=rng.randint(200, 3650))
            steps[k] = rng.randint(0, min(2, max(0, len(CONDITIONS[k].ladder) - 1)))
        else:
            dx[k] = first + timedelta(days=round(span * rng.uniform(0.05, 0.6)))
    return dx, steps


def _patient(rng: random.Random, pid: str, name: tuple[str, str, str], first: date, span: int) -> Patient:
    sex, given, family = name
    age = rng.randint(28, 76)
    birth = date(first.year - age, rng.randint(1, 12), rng.randint(1, 28))
    height = rng.gauss(163, 7) if sex == "female" else rng.gauss(177, 7)
    dx, steps = _conditions(rng, age, first, span)
    allergies = rng.sample(ALLERGIES, rng.choices([0, 1, 2], weights=[5, 4, 1])[0])
    p = Patient(
        pid,
        given,
        family,
        sex,
        birth,
        round(height, 1),
        round(rng.uniform(21, 35) * (height / 100) ** 2, 1),
        dx,
        steps,
        allergies,
        rng.sample(FAMILY_HISTORY, rng.randint(2, 4)),
        _social(rng, age),
    )
    p.anticoagulant = "warfarin" if rng.random() < 0.3 else "apixaban"
    p.warfarin_mg_for_inr = rng.choice([3, 4, 5, 6, 7, 8])
    if "htn" in dx and rng.random() < 0.2:
        p.intolerance = "lisinopril"
    elif "hld" in dx and rng.random() < 0.15:
        p.intolerance = "atorvastatin"
    return p


def _long_patient(rng: random.Random, p: Patient, first: date, course: str) -> None:
    """Reshape a planned patient into one of the two decades-long courses."""
    p.long_course = course
    p.birth = date(first.year - rng.randint(46, 52), p.birth.month, p.birth.day)
    if course == "icu":
        p.conditions = {
            "copd": first - timedelta(days=900),
            "htn": first - timedelta(days=2000),
            "dm2": first + timedelta(days=1500),
            "hf": first + timedelta(days=3300),
            "af": first + timedelta(days=4200),
            "ckd": first + timedelta(days=5200),
        }
        p.start_steps = {"copd": 0, "htn": 1}
        p.social["tobacco"] = "former smoker, quit 2003 (42 pack-yrs)"
    else:
        p.conditions = {
            "htn": first - timedelta(days=1200),
            "hld": first - timedelta(days=800),
            "dm2": first + timedelta(days=700),
            "hypothyroid": first + timedelta(days=2400),
            "depression": first + timedelta(days=4300),
        }
        p.start_steps = {"htn": 0, "hld": 0}
    p.intolerance = None


def _admissions(rng: random.Random, p: Patient, first: date, span: int) -> list[Planned]:
    from .episodes import admission

    def at(frac: float, key: str) -> Planned:
        return (
            first + timedelta(days=round(span * frac)),
            lambda c, d, key=key: (lambda r: (r[0], [r[1]]))(admission(c, d, key, rng)),
        )

    if p.long_course == "icu":
        keys = ["cap", "copd", "sepsis", "copd", "cellulitis", "adhf", "sepsis", "copd", "adhf", "cap"]
        return [at((i + 0.5) / len(keys) + rng.uniform(-0.03, 0.03), k) for i, k in enumerate(keys)]
    if p.long_course == "oncology":
        dx = first + timedelta(days=round(span * 0.36))
        plan = oncology_plan(dx, first + timedelta(days=span), rng)
        fever = plan[6][0] + timedelta(days=9)  # after the 5th FOLFOX cycle
        return plan + [(fever, lambda c, d: (lambda r: (r[0], [r[1]]))(admission(c, d, "neutropenic", rng)))]
    if rng.random() < 0.25 and span > 700:
        key = "adhf" if "hf" in p.conditions else rng.choice(["cap", "cellulitis"])
        return [at(rng.uniform(0.3, 0.8), key)]
    return []


def _plant(rng: random.Random, plans: list[PatientPlan], n_cohorts: int) -> None:
    """Give each of ``n_cohorts`` rare attributes to 2-4 regular patients with room in their record."""
    pool = [pl for pl in plans if pl.patient.long_course is None and pl.target_chars >= 20_000]
    kinds = (
        [("allergy", a) for a in RARE_ALLERGIES]
        + [("procedure", x) for x in RARE_PROCEDURES]
        + [("dx", x) for x in RARE_DIAGNOSES]
        + [("family", f) for f in RARE_FAMILY]
    )
    for kind, item in rng.sample(kinds, min(n_cohorts, len(kinds))):
        members = [pl for pl in pool if kind not in pl.patient.rare]
        for pl in rng.sample(members, min(len(members), rng.randint(2, 4))):
            p, span = pl.patient, (pl.end - pl.first).days
            when = pl.first + timedelta(days=round(span * rng.uniform(0.05, 0.3)))
            p.rare[kind] = (*item, when) if kind in ("procedure", "dx") else item
            if kind == "allergy":
                p.allergies.append(item)
            elif kind == "family":
                p.family.append(item)


def plan_cohort(seed: int, scale: int) -> list[PatientPlan]:
    rng = random.Random(f"{seed}/cohort")
    n_regular, n_long = REGULAR_PER_SCALE * scale, LONG_PER_SCALE * scale
    n = n_regular + n_long
    names = _names(rng, n)
    lengths = [
        round(MIN_CHARS * (MAX_CHARS / MIN_CHARS) ** ((j + 0.5) / REGULAR_PER_SCALE))
        for _ in range(scale)
        for j in range(REGULAR_PER_SCALE)
    ]
    rng.shuffle(lengths)
    long_slots = {round((i + 0.3) * n / n_long): ("icu" if i % 2 == 0 else "oncology") for i in range(n_long)}
    plans: list[PatientPlan] = []
    for idx in range(n):
        pid = f"P{idx + 1:04d}"
        course = long_slots.get(idx)
        end = RECORD_END - timedelta(days=rng.randint(0, 240))
        if course:
            target, span = LONG_CHARS + rng.randint(0, 20_000), rng.randint(22, 24) * 365
        else:
            target = lengths.pop()
            frac = math.log(target / MIN_CHARS) / math.log(MAX_CHARS / MIN_CHARS)
            span = round(365 * (1 + 13 * frac * rng.uniform(0.7, 1.1)))
        first = end - timedelta(days=span)
        p = _patient(rng, pid, names[idx], first, span)
        if course:
            _long_patient(rng, p, first, course)
        plans.append(PatientPlan(p, first, end, target, []))
    for pl in plans:
        pl.planned = _admissions(rng, pl.patient, pl.first, (pl.end - pl.first).days)
    _plant(rng, plans, N_COHORTS)
    return plans
