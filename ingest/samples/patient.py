"""The record types of one simulated patient: who they are and what happened at each encounter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .clinical import Med


@dataclass
class Patient:
    pid: str  # "P0007": also the document id
    first: str
    last: str
    sex: str  # "female" | "male"
    birth: date
    height_cm: float
    weight_kg: float  # at the first encounter
    conditions: dict[str, date]  # condition key -> diagnosis date (before the record = pre-existing)
    start_steps: dict[str, int]  # pre-existing conditions: ladder step already reached
    allergies: list[tuple[str, str]]  # (allergen, reaction)
    family: list[str]
    social: dict[str, str]
    anticoagulant: str = "apixaban"  # or "warfarin" (then INR clinic)
    warfarin_mg_for_inr: float = 5.0  # dose that gives INR ~2.5 for this patient
    intolerance: str | None = None  # drug this patient will not tolerate (see conditions.INTOLERANCE)
    rare: dict[str, tuple] = field(default_factory=dict)  # planted cohort attributes, see generate.py
    long_course: str | None = None  # "icu" | "oncology" for the two very long histories

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def honorific(self) -> str:
        return ("Ms. " if self.sex == "female" else "Mr. ") + self.last

    def age(self, day: date) -> int:
        return day.year - self.birth.year - ((day.month, day.day) < (self.birth.month, self.birth.day))


@dataclass
class MedChange:
    action: str  # "started" | "increased" | "decreased" | "stopped"
    med: Med  # the new order (for "stopped": the order that was stopped)
    prior: Med | None
    reason: str

    def __str__(self) -> str:
        if self.action in ("increased", "decreased"):
            before = self.prior.dose if self.prior else "?"
            return f"{self.action.capitalize()} {self.med.drug} {before} -> {self.med.dose} {self.med.freq}"
        return f"{self.action.capitalize()} {self.med}"


@dataclass
class Encounter:
    day: date
    kind: str  # "Primary care follow-up", "ICU day 3", "Oncology infusion", ...
    clinician: str
    vitals: dict[str, float]  # sbp dbp hr rr temp spo2 weight
    labs: list[tuple[str, float]] = field(default_factory=list)
    changes: list[MedChange] = field(default_factory=list)
    meds: list[Med] = field(default_factory=list)  # after this encounter's changes
    new_dx: list[str] = field(default_factory=list)  # "Type 2 diabetes mellitus (E11.9)"
    procedures: list[tuple[str, str]] = field(default_factory=list)  # (procedure, finding)
    immunizations: list[str] = field(default_factory=list)
    complaints: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    exam: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # condition keys under care at this visit
    details: list[str] = field(default_factory=list)  # episode lines: vent settings, drips, regimen
    assessment: list[str] = field(default_factory=list)  # episode A/P lines, written as clinicians do
    inpatient: bool = False

    def lab(self, key: str) -> float | None:
        return next((v for k, v in self.labs if k == key), None)


@dataclass
class Episode:
    """A hospital stay or treatment course, with the facts questions may ask about."""

    kind: str  # "septic shock", "copd exacerbation", "folfox", ...
    start: date
    end: date
    facts: dict[str, str] = field(default_factory=dict)
