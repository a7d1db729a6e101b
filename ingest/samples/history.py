"""One patient's whole history: schedule visits, run the course, render, stop at the target length.

Visit spacing adapts as the record grows: the gap to the next visit is the time left divided by the
visits still needed to reach the target length, so a 2K-token record and a 130K-token record both span
their years without gaps of a decade or a visit every day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from .clinical import Med
from .course import Course
from .notes import clinic_note, inpatient_note
from .oncology import Planned
from .patient import Encounter, Episode, Patient
from .render import encounter_block, patient_document
from .vocab import CLINICIANS, NURSE_PRACTITIONERS

SPECIALTIES = [
    ("Endocrinology", ("dm2", "hypothyroid")),
    ("Cardiology", ("hf", "af")),
    ("Pulmonology", ("copd", "asthma")),
    ("Nephrology", ("ckd",)),
    ("Behavioral health", ("depression",)),
]
ACUTE = [
    ("sore throat and nasal congestion x4 days", "Viral URI - supportive care, fluids, saline rinses", None),
    (
        "dysuria and urinary frequency x2 days",
        "Acute cystitis - UA + for LE/nitrites",
        Med("nitrofurantoin", "100 mg", "BID x5 days"),
    ),
    (
        "low back pain after lifting boxes",
        "Acute lumbar strain - no red flags",
        Med("cyclobenzaprine", "5 mg", "qHS PRN x7 days"),
    ),
    (
        "facial pressure and purulent nasal discharge x12 days",
        "Acute bacterial sinusitis",
        Med("doxycycline", "100 mg", "BID x7 days"),
    ),
    (
        "itchy rash on forearms after gardening",
        "Contact dermatitis",
        Med("triamcinolone 0.1% cream", "1 application", "BID x10 days", "topical"),
    ),
    ("R ankle pain after inversion injury", "R ankle sprain - Ottawa rules neg, RICE", None),
]
SUMMARY_CHARS = 3000  # rough size of the summary section, counted before it is rendered


@dataclass
class History:
    patient: Patient
    encounters: list[Encounter]
    episodes: list[Episode]
    text: str


class _Clinic:
    """Who sees the patient and why: a PCP, specialists for their conditions, acute visits."""

    def __init__(self, patient: Patient, rng: random.Random):
        self.rng = rng
        self.pcp = rng.choice(CLINICIANS)
        others = [c for c in CLINICIANS if c != self.pcp]
        self.specialists = {name: rng.choice(others) for name, _ in SPECIALTIES}
        self.last_annual: date | None = None

    def next_kind(self, course: Course, day: date) -> tuple[str, str, tuple | None]:
        rng = self.rng
        specs = [name for name, keys in SPECIALTIES if any(k in course.diagnosed for k in keys)]
        r = rng.random()
        if (self.last_annual is None or (day - self.last_annual).days > 330) and r < 0.35:
            self.last_annual = day
            return "Annual physical", self.pcp, None
        if specs and r < 0.6:
            name = rng.choice(specs)
            return f"{name} follow-up", self.specialists[name], None
        if r < 0.68:
            return "Telehealth follow-up", self.pcp, None
        if r < 0.78:
            return "Acute visit", rng.choice(NURSE_PRACTITIONERS), rng.choice(ACUTE)
        return "Primary care follow-up", self.pcp, None


def _acute_visit(course: Course, day: date, kind: str, who: str, acute: tuple) -> Encounter:
    complaint, assessment, med = acute
    if med is not None and med.drug == "nitrofurantoin" and course.egfr(day) < 45:
        med = Med("cephalexin", "500 mg", "BID x7 days")  # nitrofurantoin: avoid when renal function is low
    if med is not None:
        course.extra[med.drug] = med
        course.reasons[med.drug] = assessment.split(" - ")[0].lower()
    enc = course.visit(day, kind, who)
    if med is not None:
        course.expiring[med.drug] = "course completed"
    enc.complaints.insert(0, complaint)
    enc.assessment.append(assessment + ".")
    return enc


def build_history(
    patient: Patient, first: date, end: date, target_chars: int, key: str, planned: list[Planned]
) -> History:
    """Simulate and render until the document reaches ``target_chars`` or the record's end date."""
    rng, note_rng = random.Random(f"{key}/course"), random.Random(f"{key}/notes")
    course = Course(patient, rng, first)
    course.start_record()
    clinic = _Clinic(patient, rng)
    planned = sorted(planned, key=lambda item: item[0])
    encounters: list[Encounter] = []
    episodes: list[Episode] = []
    blocks: list[str] = []
    prior: dict[str, float] = {}
    total, day, i = SUMMARY_CHARS, first, 0
    while True:
        last = encounters[-1].day if encounters else first - timedelta(days=1)
        if i < len(planned) and planned[i][0] <= day:
            when, build = planned[i]
            i += 1
            new, eps = build(course, max(when, last + timedelta(days=1)))
            episodes += eps
        else:
            kind, who, acute = clinic.next_kind(course, day)
            new = [_acute_visit(course, day, kind, who, acute) if acute else course.visit(day, kind, who)]
        for enc in new:
            note = (
                inpatient_note(patient, enc, note_rng)
                if enc.inpatient
                else clinic_note(patient, enc, prior, note_rng)
            )
            blocks.append(encounter_block(patient, enc, note))
            total += len(blocks[-1])
            prior.update(dict(enc.labs))
            encounters.append(enc)
        last = encounters[-1].day if encounters else day
        if total >= target_chars or last >= end:
            break
        per_visit = (total - SUMMARY_CHARS) / len(encounters) if encounters else 2000
        visits_left = max(1.0, (target_chars - total) / per_visit)
        gap = (end - last).days / visits_left * rng.uniform(0.6, 1.4)
        if new and new[-1].changes:
            gap = min(gap, rng.randint(28, 90))  # recheck after a medication change
        day = min(end, last + timedelta(days=max(1, min(400, round(gap)))))
    text = patient_document(patient, encounters, blocks)
    return History(patient, encounters, episodes, text)
