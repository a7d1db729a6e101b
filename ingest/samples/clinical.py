"""Lab tests, medications and how they are written down.

Every value that a question may quote goes through one of the formatters here, both when the history is
rendered and when a gold fact is built, so a gold fact is always a literal substring of its document.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lab:
    key: str
    label: str  # as charted, e.g. "HbA1c"
    unit: str  # "" for scores; "%" is written without a space
    decimals: int
    low: float | None  # reference range; None = unbounded
    high: float | None


LABS: dict[str, Lab] = {
    lab.key: lab
    for lab in [
        Lab("hba1c", "HbA1c", "%", 1, 4.0, 5.6),
        Lab("glucose", "Glucose, fasting", "mg/dL", 0, 70, 99),
        Lab("creatinine", "Creatinine", "mg/dL", 2, 0.6, 1.2),
        Lab("egfr", "eGFR", "mL/min/1.73m2", 0, 60, None),
        Lab("sodium", "Sodium", "mmol/L", 0, 135, 145),
        Lab("potassium", "Potassium", "mmol/L", 1, 3.5, 5.1),
        Lab("bicarb", "Bicarbonate", "mmol/L", 0, 22, 29),
        Lab("ldl", "LDL-C", "mg/dL", 0, None, 100),
        Lab("hdl", "HDL-C", "mg/dL", 0, 40, None),
        Lab("tg", "Triglycerides", "mg/dL", 0, None, 150),
        Lab("tsh", "TSH", "mIU/L", 2, 0.4, 4.5),
        Lab("inr", "INR", "", 1, 0.8, 1.2),
        Lab("bnp", "BNP", "pg/mL", 0, None, 100),
        Lab("hgb", "Hemoglobin", "g/dL", 1, 12.0, 17.5),
        Lab("wbc", "WBC", "K/uL", 1, 4.0, 11.0),
        Lab("plt", "Platelets", "K/uL", 0, 150, 400),
        Lab("uacr", "Urine albumin/creatinine ratio", "mg/g", 0, None, 30),
        Lab("alt", "ALT", "U/L", 0, 7, 56),
        Lab("lactate", "Lactate", "mmol/L", 1, 0.5, 2.0),
        Lab("procalcitonin", "Procalcitonin", "ng/mL", 2, None, 0.5),
        Lab("cea", "CEA", "ng/mL", 1, None, 3.0),
        Lab("anc", "ANC", "K/uL", 2, 1.5, 8.0),
        Lab("phq9", "PHQ-9 score", "", 0, None, 4),
        Lab("act", "Asthma Control Test score", "", 0, 20, None),
        Lab("cat", "COPD Assessment Test score", "", 0, None, 10),
    ]
}


def fmt_value(key: str, value: float) -> str:
    """'7.9%', '142 mg/dL', '2.4' (INR and scores carry no unit)."""
    lab = LABS[key]
    number = f"{value:.{lab.decimals}f}"
    if not lab.unit:
        return number
    return f"{number}{lab.unit}" if lab.unit == "%" else f"{number} {lab.unit}"


def flag(key: str, value: float) -> str:
    """' (H)' / ' (L)' against the reference range, '' when within it."""
    lab = LABS[key]
    rounded = round(value, lab.decimals)
    if lab.high is not None and rounded > lab.high:
        return " (H)"
    if lab.low is not None and rounded < lab.low:
        return " (L)"
    return ""


def lab_line(key: str, value: float) -> str:
    """One charted result, e.g. 'HbA1c 7.9% (H)'."""
    return f"{LABS[key].label} {fmt_value(key, value)}{flag(key, value)}"


@dataclass(frozen=True)
class Med:
    """One medication order as it appears on a med list: 'metformin 1000 mg PO BID'."""

    drug: str
    dose: str  # "1000 mg", "16 units", "2 puffs"
    freq: str  # "BID", "daily", "qHS", "PRN"
    route: str = "PO"

    @property
    def amount(self) -> float:
        """The leading number of the dose, used to order doses of one drug ('250/50 mcg' -> 250)."""
        return float(self.dose.split()[0].split("/")[0])

    @property
    def drug_dose(self) -> str:
        """The short form a gold fact quotes: 'lisinopril 20 mg'."""
        return f"{self.drug} {self.dose}"

    def __str__(self) -> str:
        return f"{self.drug} {self.dose} {self.route} {self.freq}"


def fmt_bp(sbp: float, dbp: float) -> str:
    return f"{round(sbp)}/{round(dbp)}"
