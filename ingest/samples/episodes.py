"""Hospital stays: daily progress notes for ward and ICU admissions, ending in a discharge summary.

Values follow a recovery curve (abnormal on admission, normalizing over the stay), and every stay keeps
the facts a question may ask about (admit/discharge dates, peak lactate, culture result, ventilator days).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from .clinical import fmt_value, lab_line
from .course import Course
from .patient import Encounter, Episode


@dataclass(frozen=True)
class Stay:
    key: str
    title: str
    icu: bool
    days: tuple[int, int]
    antibiotics: tuple[str, ...]
    organisms: tuple[str, ...]
    vent: bool  # intubated on day 1
    pressor: bool
    plan: tuple[str, ...]  # daily A/P fragments


STAYS = {
    s.key: s
    for s in [
        Stay(
            "sepsis",
            "Septic shock due to right lower lobe pneumonia",
            True,
            (7, 12),
            ("piperacillin-tazobactam 4.5 g IV q6h", "vancomycin 1250 mg IV q12h"),
            (
                "Streptococcus pneumoniae, pan-sensitive",
                "MSSA",
                "Klebsiella pneumoniae, ESBL-negative",
                "no growth at 5 days",
            ),
            True,
            True,
            (
                "Cont abx, f/u cultures.",
                "Wean pressors as tolerated, MAP goal > 65.",
                "Daily SBT when FiO2 <= 40%.",
                "Trend lactate q6h until < 2.",
                "Stress ulcer ppx, SQ heparin for DVT ppx.",
            ),
        ),
        Stay(
            "copd",
            "Acute hypercapnic respiratory failure due to COPD exacerbation",
            True,
            (5, 9),
            ("azithromycin 500 mg IV daily", "methylprednisolone 40 mg IV q8h"),
            ("Haemophilus influenzae", "normal respiratory flora", "rhinovirus on respiratory PCR"),
            True,
            False,
            ("Duonebs q4h + PRN.", "Steroid taper once off vent.", "Daily SAT/SBT.", "Target SpO2 88-92%."),
        ),
        Stay(
            "adhf",
            "Acute decompensated heart failure",
            False,
            (3, 6),
            ("furosemide 80 mg IV BID",),
            ("no cultures sent",),
            False,
            False,
            (
                "Diurese, goal net -1 to -2 L/day.",
                "Strict I/O, daily wts.",
                "2 g Na diet, 1.5 L fluid restriction.",
                "Trend BMP daily while on IV diuresis.",
            ),
        ),
        Stay(
            "cap",
            "Community-acquired pneumonia",
            False,
            (2, 5),
            ("ceftriaxone 1 g IV daily", "azithromycin 500 mg PO daily"),
            ("Streptococcus pneumoniae", "no growth", "normal respiratory flora"),
            False,
            False,
            ("Cont abx, transition to PO when afebrile 24 h.", "Incentive spirometry.", "Ambulate TID."),
        ),
        Stay(
            "cellulitis",
            "Cellulitis of left lower leg",
            False,
            (2, 4),
            ("cefazolin 2 g IV q8h",),
            ("no growth",),
            False,
            False,
            ("Elevate LLE, mark borders.", "Transition to PO cephalexin when improving."),
        ),
        Stay(
            "neutropenic",
            "Neutropenic fever during chemotherapy",
            False,
            (3, 6),
            ("cefepime 2 g IV q8h",),
            ("no growth", "Escherichia coli in 1/2 blood cultures"),
            False,
            False,
            ("Cont cefepime until ANC > 0.5 and afebrile 48 h.", "Neutropenic precautions.", "Hold chemo."),
        ),
        Stay(
            "postop",
            "Postoperative care after abdominal surgery",
            False,
            (4, 6),
            ("cefazolin 2 g IV x1 pre-incision",),
            ("no cultures sent",),
            False,
            False,
            ("Advance diet as tolerated.", "Ambulate QID, incentive spirometry.", "Multimodal analgesia."),
        ),
    ]
}
INTENSIVISTS = ["Dr. Renata Volkova", "Dr. Samuel Achebe-Grant", "Dr. Priyanka Desai"]
HOSPITALISTS = ["Dr. Martin Ekwueme", "Dr. Lena Hartmann", "Dr. Kofi Boateng", "Dr. Ruth Calloway"]


def _curve(peak: float, normal: float, day: int, rate: float = 0.55) -> float:
    """Admission value decaying toward normal: peak on day 1, ~half the excess gone each `rate`."""
    return normal + (peak - normal) * rate ** (day - 1)


def admission(course: Course, start: date, key: str, rng: random.Random) -> tuple[list[Encounter], Episode]:
    """Daily encounters of one stay, and the episode's facts."""
    stay = STAYS[key]
    n = rng.randint(*stay.days)
    vent_days = rng.randint(2, max(2, n - 3)) if stay.vent else 0
    pressor_days = rng.randint(1, 3) if stay.pressor else 0
    organism = rng.choice(stay.organisms)
    lactate_peak = round(rng.uniform(3.4, 7.8), 1) if key == "sepsis" else round(rng.uniform(1.4, 2.6), 1)
    doctor = rng.choice(INTENSIVISTS if stay.icu else HOSPITALISTS)
    base = {k: course.true_value(k, start) for k in ("creatinine", "hgb", "sodium", "potassium", "plt")}
    wbc_peak = rng.uniform(14, 24) if key != "neutropenic" else rng.uniform(0.4, 0.9)
    encs: list[Encounter] = []
    for d in range(1, n + 1):
        day = start + timedelta(days=d - 1)
        sick = 0.55 ** (d - 1)
        vitals = {
            "sbp": 84 + (122 - 84) * (1 - sick) if stay.pressor else 138 - 10 * (1 - sick),
            "dbp": 48 + 24 * (1 - sick) if stay.pressor else 82 - 6 * (1 - sick),
            "hr": 82 + 36 * sick + rng.gauss(0, 3),
            "rr": 16 + 10 * sick,
            "temp": 37.0 + 1.9 * sick * (key != "adhf"),
            "spo2": 95 - 7 * sick,
            "weight": course.p.weight_kg + (2.5 * sick if key == "adhf" else 0),
        }
        labs = [
            ("wbc", _curve(wbc_peak, 8.0, d)),
            ("hgb", base["hgb"] - 1.4 + 0.1 * d),
            ("plt", _curve(base["plt"] * 0.6, base["plt"], d)),
            ("sodium", _curve(131, base["sodium"], d)),
            ("potassium", base["potassium"] + rng.gauss(0, 0.2)),
            ("creatinine", _curve(base["creatinine"] * 1.9, base["creatinine"], d, 0.7)),
        ]
        if key == "sepsis" and d <= 3:
            labs.append(("lactate", _curve(lactate_peak, 1.1, d, 0.4)))
        if key == "sepsis" and d in (1, 3):
            labs.append(("procalcitonin", rng.uniform(6, 22) * 0.5 ** (d - 1)))
        if key == "adhf" and d == 1:
            labs.append(("bnp", rng.uniform(1400, 3200)))
        if key == "neutropenic":
            labs.append(("anc", _curve(0.2, 2.4, d, 0.6)))
        kind = f"{'ICU' if stay.icu else 'Hospital'} day {d}" + (" - discharge summary" if d == n else "")
        enc = Encounter(day, kind, doctor, vitals, labs=labs, inpatient=True, meds=list(course.meds.values()))
        enc.details = _details(stay, d, n, vent_days, pressor_days, organism, rng)
        enc.assessment = _assessment(stay, d, n, labs, rng)
        encs.append(enc)
    facts = {
        "title": stay.title,
        "admit": start.isoformat(),
        "discharge": encs[-1].day.isoformat(),
        "organism": organism,
        "antibiotic": stay.antibiotics[0],
        "days": str(n),
    }
    if key == "sepsis":
        facts["lactate"] = fmt_value("lactate", lactate_peak)
    if stay.vent:
        facts["extubated"] = encs[vent_days].day.isoformat() if vent_days < n else encs[-1].day.isoformat()
        facts["vent_days"] = str(vent_days)
    return encs, Episode(key, start, encs[-1].day, facts)


def _details(
    stay: Stay, d: int, n: int, vent_days: int, pressor_days: int, organism: str, rng: random.Random
) -> list[str]:
    out = [f"Admission diagnosis: {stay.title}"] if d == 1 else []
    out += [f"Inpatient: {a} (day {d})" if d == 1 or "x1" not in a else "" for a in stay.antibiotics]
    out = [line for line in out if line]
    if stay.vent and d == 1:
        out.append("Intubated in ED for hypoxemic/hypercapnic resp failure, 7.5 ETT")
    if stay.vent and d <= vent_days:
        fio2 = max(30, 70 - 10 * (d - 1))
        out.append(f"Vent: AC/VC, Vt 420 mL, RR 18, PEEP {max(5, 10 - d)}, FiO2 {fio2}%")
    if stay.vent and d == vent_days + 1:
        out.append("Extubated to 2L NC after passing SBT")
    if d <= pressor_days:
        out.append(f"Norepinephrine {0.18 / d:.2f} mcg/kg/min")
    if d == 2 and organism != "no cultures sent":
        out.append(f"Cultures: {organism}")
    io = rng.uniform(-2.2, -0.6) if stay.key == "adhf" else rng.uniform(-0.5, 2.4) / d
    out.append(f"I/O last 24 h: net {io:+.1f} L")
    if d == n:
        out.append(f"Discharged home on hospital day {n} in stable condition; PCP f/u in 1 wk")
    return out


def _assessment(stay: Stay, d: int, n: int, labs: list[tuple[str, float]], rng: random.Random) -> list[str]:
    trend = (
        rng.choice(["improving", "slowly improving", "stable overnight", "better today"])
        if d > 1
        else "admitted overnight"
    )
    shown = ", ".join(lab_line(k, v) for k, v in labs[:3])
    lines = [f"{stay.title} - {trend}. AM labs: {shown}."]
    lines += rng.sample(list(stay.plan), min(len(stay.plan), rng.randint(2, 3)))
    if d == n:
        lines.append("Dispo: home; resume home meds; pt and family agree w/ plan.")
    return lines
