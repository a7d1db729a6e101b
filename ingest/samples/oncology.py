"""A colon cancer course over many years: diagnosis, surgery, adjuvant FOLFOX, surveillance, liver
recurrence, FOLFIRI + bevacizumab, hepatectomy. It gives one of the two very long histories its depth
and questions whose evidence sits far from the top of the record.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import date, timedelta

from .clinical import fmt_value
from .course import Course
from .episodes import admission
from .patient import Encounter, Episode

ONCOLOGISTS = ["Dr. Teodora Lindahl", "Dr. Adebayo Nwosu"]
Planned = tuple[date, Callable[[Course, date], tuple[list[Encounter], list[Episode]]]]


def _vitals(course: Course, day: date) -> dict[str, float]:
    v = course.vitals(day)
    v["weight"] -= 3.0  # treatment-related weight loss
    return v


def _bsa(course: Course, day: date) -> float:
    """Mosteller body surface area, m2: what chemotherapy doses are computed from."""
    return math.sqrt(course.p.height_cm * (course.p.weight_kg - 3.0) / 3600)


def _visit(course: Course, day: date, kind: str, doctor: str) -> Encounter:
    enc = Encounter(day, kind, doctor, _vitals(course, day), meds=list(course.meds.values()))
    enc.problems = list(course.diagnosed)
    return enc


def _cycle(
    course: Course,
    day: date,
    regimen: str,
    k: int,
    total: int,
    oxali_m2: int,
    cea: float,
    neuropathy: int,
    anc: float,
    doctor: str,
    reduced_now: bool = False,
    delayed: bool = False,
) -> Encounter:
    bsa = _bsa(course, day)
    enc = _visit(course, day, f"Oncology infusion - {regimen} cycle {k} of {total}", doctor)
    enc.labs = [
        ("wbc", anc / 0.6),
        ("anc", anc),
        ("hgb", course.true_value("hgb", day) - 1.1),
        ("plt", course.true_value("plt", day) * 0.8),
        ("creatinine", course.true_value("creatinine", day)),
        ("alt", course.true_value("alt", day) * 1.2),
    ]
    if k % 3 == 1:
        enc.labs.append(("cea", cea))
    enc.details = [f"BSA {bsa:.2f} m2"]
    if delayed:
        enc.details.append(f"Cycle {k} delayed 1 wk: ANC 1.10 K/uL on the scheduled date, recovered today")
    if regimen == "FOLFOX":
        enc.details.append(f"Oxaliplatin {oxali_m2} mg/m2 = {round(oxali_m2 * bsa)} mg IV over 2 h")
        if reduced_now:
            enc.details.append(
                f"Oxaliplatin dose reduced 85 -> {oxali_m2} mg/m2 for grade 2 peripheral neuropathy"
            )
    else:
        enc.details += [
            f"Irinotecan 180 mg/m2 = {round(180 * bsa)} mg IV over 90 min",
            f"Bevacizumab 5 mg/kg = {round(5 * (course.p.weight_kg - 3))} mg IV",
        ]
    enc.details += [
        f"Leucovorin 400 mg/m2 = {round(400 * bsa)} mg IV",
        f"5-FU 400 mg/m2 = {round(400 * bsa)} mg IV bolus, then 2400 mg/m2 = {round(2400 * bsa)} mg "
        "CI over 46 h via port",
        "Premeds: ondansetron 16 mg IV, dexamethasone 12 mg IV",
        f"Toxicity: peripheral neuropathy grade {neuropathy} (CTCAE), fatigue grade 1, no mucositis",
    ]
    enc.assessment = [
        f"Colon adenocarcinoma on {regimen}, cycle {k}. ANC {fmt_value('anc', anc)}, OK to treat.",
        "Cold sensitivity counseling reviewed." if regimen == "FOLFOX" else "BP and UA protein ok.",
    ]
    return enc


def _surveillance(course: Course, day: date, cea: float, ct: str | None, doctor: str) -> Encounter:
    enc = _visit(course, day, "Oncology surveillance", doctor)
    enc.labs = [("cea", cea), ("hgb", course.true_value("hgb", day)), ("alt", course.true_value("alt", day))]
    if ct:
        enc.procedures = [("CT chest/abdomen/pelvis w/ contrast", ct)]
    enc.assessment = [f"Colon adenocarcinoma, surveillance. CEA {fmt_value('cea', cea)}."]
    return enc


def oncology_plan(dx: date, end: date, rng: random.Random) -> list[Planned]:
    """Every scheduled oncology encounter of the course, as (date, builder) pairs."""
    doc = rng.choice(ONCOLOGISTS)
    reduced_at = rng.randint(7, 9)
    delayed = rng.randint(3, 6)
    cea_dx = round(rng.uniform(6.5, 12.5), 1)
    plan: list[Planned] = []

    def dx_visit(course: Course, day: date):
        enc = _visit(course, day, "GI procedure", "Dr. Hector Ibarra")
        enc.labs = [("hgb", course.true_value("hgb", day) - 2.2), ("cea", cea_dx)]
        enc.procedures = [
            (
                "diagnostic colonoscopy",
                "friable 4 cm mass in ascending colon, biopsied; path: "
                "invasive adenocarcinoma, moderately differentiated",
            )
        ]
        enc.new_dx = ["Malignant neoplasm of ascending colon (C18.2)"]
        enc.details = ["CT C/A/P: 4 cm ascending colon mass w/ 2 enlarged pericolic LN, no distant mets"]
        enc.assessment = ["New colon adenocarcinoma. Referred to surgery and oncology."]
        return [enc], [Episode("colon cancer diagnosis", day, day, {"cea": fmt_value("cea", cea_dx)})]

    def surgery(course: Course, day: date):
        encs, _ = admission(course, day, "postop", rng)
        for i, enc in enumerate(encs):
            enc.kind = f"Hospital day {i + 1}" + (" - discharge summary" if i == len(encs) - 1 else "")
            enc.details = [d for d in enc.details if not d.startswith(("Inpatient", "Cultures", "Admission"))]
            enc.assessment = [f"POD {i}: s/p lap R hemicolectomy, pain controlled, advancing diet."]
        encs[0].procedures = [("laparoscopic right hemicolectomy", "uncomplicated, EBL 150 mL")]
        encs[2].details.append("Surgical pathology: pT3 pN1b (3/18 LN+), margins negative, MSS; stage IIIB")
        return encs, [
            Episode("hemicolectomy", day, encs[-1].day, {"stage": "stage IIIB", "nodes": "3/18 LN+"})
        ]

    plan.append((dx, dx_visit))
    plan.append((dx + timedelta(days=20), surgery))
    day = dx + timedelta(days=56)
    for k in range(1, 13):
        if k == delayed:
            day += timedelta(days=7)
        anc = rng.uniform(1.6, 3.2)
        neuro = 0 if k < 5 else 1 if k < reduced_at else 2
        oxali = 85 if k <= reduced_at else 65
        cea = max(0.8, cea_dx * 0.25**k + rng.uniform(0.8, 1.6))
        plan.append(
            (
                day,
                lambda c, d, k=k, oxali=oxali, cea=cea, neuro=neuro, anc=anc: (
                    [
                        _cycle(
                            c,
                            d,
                            "FOLFOX",
                            k,
                            12,
                            oxali,
                            cea,
                            neuro,
                            anc,
                            doc,
                            k == reduced_at + 1,
                            k == delayed,
                        )
                    ],
                    [],
                ),
            )
        )
        day += timedelta(days=14)
    folfox_end = day - timedelta(days=14)
    plan.append(
        (
            dx + timedelta(days=56),
            lambda c, d: (
                [],
                [
                    Episode(
                        "FOLFOX",
                        d,
                        folfox_end,
                        {
                            "reduced_at": str(reduced_at + 1),
                            "delayed": str(delayed),
                            "end": folfox_end.isoformat(),
                        },
                    )
                ],
            ),
        )
    )
    recurrence = folfox_end + timedelta(days=rng.randint(1900, 2300))
    day = folfox_end + timedelta(days=90)
    while day < recurrence - timedelta(days=60):
        ct = "no evidence of recurrent or metastatic disease" if rng.random() < 0.35 else None
        plan.append(
            (day, lambda c, d, cea=rng.uniform(1.1, 2.6), ct=ct: ([_surveillance(c, d, cea, ct, doc)], []))
        )
        day += timedelta(days=120 if day < folfox_end + timedelta(days=1100) else 180)
    cea_rec = round(rng.uniform(9.5, 18.5), 1)
    liver = "2 new hepatic lesions, segment VI 2.3 cm and segment VII 1.6 cm, c/w metastases"

    def relapse(course: Course, d: date):
        enc = _surveillance(course, d, cea_rec, liver, doc)
        enc.new_dx = ["Secondary malignant neoplasm of liver (C78.7)"]
        enc.details = ["Liver biopsy: metastatic adenocarcinoma c/w colorectal primary, RAS wild-type"]
        enc.assessment.append("Recurrence w/ liver mets. Plan FOLFIRI + bevacizumab, then surgical eval.")
        return [enc], [Episode("recurrence", d, d, {"cea": fmt_value("cea", cea_rec), "ct": liver})]

    plan.append((recurrence, relapse))
    day = recurrence + timedelta(days=21)
    for k in range(1, 9):
        cea = max(1.0, cea_rec * 0.7**k)
        plan.append(
            (
                day,
                lambda c, d, k=k, cea=cea: (
                    [_cycle(c, d, "FOLFIRI + bevacizumab", k, 8, 0, cea, 1, rng.uniform(1.7, 3.0), doc)],
                    [],
                ),
            )
        )
        day += timedelta(days=14)
    hep_day = day + timedelta(days=42)

    def hepatectomy(course: Course, d: date):
        encs, _ = surgery(course, d)
        encs[0].procedures = [("partial hepatectomy (segments VI-VII)", "R0 resection, EBL 400 mL")]
        for i, enc in enumerate(encs):
            enc.assessment = [f"POD {i}: s/p partial hepatectomy, LFTs trending down, ambulating."]
        encs[2].details = [
            "Surgical pathology: 2 metastatic adenocarcinoma deposits, treatment effect 60%, margins negative"
        ]
        return encs, [Episode("hepatectomy", d, encs[-1].day, {})]

    plan.append((hep_day, hepatectomy))
    day = hep_day + timedelta(days=90)
    while day < end - timedelta(days=30):
        ct = "no evidence of disease" if rng.random() < 0.4 else None
        plan.append(
            (day, lambda c, d, cea=rng.uniform(1.4, 3.0), ct=ct: ([_surveillance(c, d, cea, ct, doc)], []))
        )
        day += timedelta(days=150)
    return plan
