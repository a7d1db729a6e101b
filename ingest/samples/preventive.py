"""Vaccines, screening and condition-driven procedures: what a visit adds besides medication changes."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from .vocab import PROCEDURES

if TYPE_CHECKING:
    from .course import Course
    from .patient import Encounter

FLU = "influenza vaccine (inactivated, quadrivalent) 0.5 mL IM"
COVID = "COVID-19 mRNA vaccine IM"
TDAP = "Tdap 0.5 mL IM"
PCV20 = "pneumococcal conjugate vaccine (PCV20) IM"
SHINGRIX = "recombinant zoster vaccine (Shingrix) IM"
HEPB = "hepatitis B vaccine (Heplisav-B) IM"
FINDINGS = dict(PROCEDURES)


def _since(course: Course, what: str, day: date) -> int | None:
    """Days since ``what`` was last given or done; None if never."""
    dates = course.gave.get(what)
    return (day - dates[-1]).days if dates else None


def _give(course: Course, what: str, day: date) -> None:
    course.gave.setdefault(what, []).append(day)


def immunize(course: Course, day: date, enc: Encounter) -> None:
    """Seasonal and age-based vaccines, with the seeded RNG deciding who accepts."""
    rng, age = course.rng, course.p.age(day)
    given: list[str] = []
    flu = _since(course, FLU, day)
    if day.month in (9, 10, 11, 12) and (flu is None or flu > 200) and rng.random() < 0.8:
        given.append(FLU)
    covid = _since(course, COVID, day)
    if day >= date(2021, 1, 15) and (covid is None or covid > 300) and rng.random() < 0.35:
        given.append(COVID)
    tdap = _since(course, TDAP, day)
    if (tdap is None or tdap > 3650) and rng.random() < 0.06:
        given.append(TDAP)
    if age >= 65 and day.year >= 2022 and _since(course, PCV20, day) is None and rng.random() < 0.3:
        given.append(PCV20)
    shingrix = course.gave.get(SHINGRIX, [])
    if age >= 50 and day.year >= 2018 and not shingrix and rng.random() < 0.12:
        given.append(SHINGRIX + ", dose 1 of 2")
    elif len(shingrix) == 1 and 60 <= (day - shingrix[0]).days <= 240:
        given.append(SHINGRIX + ", dose 2 of 2")
    if "dm2" in course.diagnosed and age < 60 and _since(course, HEPB, day) is None and rng.random() < 0.08:
        given.append(HEPB + ", 2-dose series")
    for what in given:
        _give(course, what.split(",")[0] if what.startswith(SHINGRIX) or what.startswith(HEPB) else what, day)
        side = rng.choice(["L deltoid", "R deltoid"])
        enc.immunizations.append(f"{what}, {side}")


def _finding(course: Course, name: str) -> str:
    options = FINDINGS[name]
    d = course.diagnosed
    if name == "transthoracic echocardiogram" and "hf" in d:
        return options[1]
    if name == "12-lead ECG" and "af" in d:
        return options[1]
    if name == "spirometry":
        return options[0] if "copd" in d else options[1] if "asthma" in d else options[2]
    return course.rng.choice(options)


def screen(course: Course, day: date, enc: Encounter) -> None:
    """At most one routine or condition-driven procedure per visit, plus any planted rare one."""
    rng, age, d, p = course.rng, course.p.age(day), course.diagnosed, course.p

    def due(name: str, every: int | None) -> bool:
        last = _since(course, name, day)
        return last is None or (every is not None and last >= every)

    options: list[tuple[str, float]] = []
    if 45 <= age <= 75 and due("screening colonoscopy", 3650):
        options.append(("screening colonoscopy", 0.06))
    if ("hf" in d or "af" in d) and due("transthoracic echocardiogram", 1460):
        options.append(("transthoracic echocardiogram", 0.4))
    if ("af" in d or "hf" in d or "htn" in d) and due("12-lead ECG", 700):
        options.append(("12-lead ECG", 0.08))
    if ("copd" in d or "asthma" in d) and due("spirometry", 730):
        options.append(("spirometry", 0.3))
    if "dm2" in d and due("dilated retinal exam", 330):
        options.append(("dilated retinal exam", 0.35))
    if p.sex == "female" and 50 <= age <= 74 and due("screening mammogram", 700):
        options.append(("screening mammogram", 0.3))
    if p.sex == "female" and age >= 65 and due("DEXA scan", None):
        options.append(("DEXA scan", 0.1))
    if (
        "smoker" in p.social["tobacco"]
        and "never" not in p.social["tobacco"]
        and 50 <= age <= 80
        and due("low-dose CT chest", 330)
    ):
        options.append(("low-dose CT chest", 0.25))
    if "oa" in d and due("right knee steroid injection", 120):
        options.append(("right knee steroid injection", 0.15))
    if "ckd" in d and due("renal ultrasound", None):
        options.append(("renal ultrasound", 0.3))
    if "hypothyroid" in d and due("thyroid ultrasound", None):
        options.append(("thyroid ultrasound", 0.1))
    for name, chance in options:
        if rng.random() < chance:
            enc.procedures.append((name, _finding(course, name)))
            _give(course, name, day)
            break
    rare = p.rare.get("procedure")
    if rare and rare[2] <= day and _since(course, rare[0], day) is None:
        enc.procedures.append((rare[0], rare[1]))
        _give(course, rare[0], day)
    rare_dx = p.rare.get("dx")
    if rare_dx and rare_dx[3] <= day and _since(course, rare_dx[0], day) is None:
        enc.new_dx.append(f"{rare_dx[0]} ({rare_dx[1]})")
        enc.details.append(f"Dx {rare_dx[0]}: {rare_dx[2]}")
        _give(course, rare_dx[0], day)
