"""The generic clinical course: one patient's chronic conditions run forward, visit by visit.

At each visit the engine measures vitals and due labs from the patient's physiology (a marker baseline
plus ramped medication effects plus noise), makes new diagnoses, climbs a condition's treatment ladder
when its marker is out of goal, applies safety rules (metformin and eGFR, apixaban dose criteria, INR,
potassium, intolerances) and records the resulting medication changes with their reasons.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from .clinical import LABS, Med, fmt_bp, fmt_value
from .conditions import CONDITIONS, EFFECTS, INTOLERANCE, Condition
from .patient import Encounter, MedChange, Patient
from .preventive import immunize, screen

# Days for a new dose to show its full effect on a marker: HbA1c reflects ~3 months of glucose.
RAMP_DAYS = {"hba1c": 80, "ldl": 42, "tsh": 42, "uacr": 60, "bnp": 45, "phq9": 35, "act": 28, "cat": 35}
NORMALS = {
    "sodium": (137, 142),
    "potassium": (3.9, 4.6),
    "bicarb": (23, 28),
    "hdl": (38, 64),
    "tg": (90, 210),
    "alt": (14, 38),
    "tsh": (0.9, 3.2),
    "inr": (0.9, 1.1),
    "bnp": (18, 80),
    "uacr": (4, 22),
    "wbc": (4.8, 9.2),
    "plt": (170, 340),
    "cea": (0.9, 2.4),
    "lactate": (0.7, 1.5),
    "procalcitonin": (0.02, 0.07),
    "hba1c": (5.1, 5.7),
    "ldl": (88, 128),
    "phq9": (0, 4),
    "act": (21, 25),
    "cat": (3, 8),
    "sbp": (112, 128),
    "hr": (60, 82),
    "anc": (2.5, 5.5),
}
NOISE = {
    "hba1c": 0.15,
    "sbp": 6,
    "hr": 5,
    "ldl": 8,
    "egfr": 3,
    "phq9": 1.5,
    "act": 1.2,
    "cat": 1.5,
    "sodium": 1.5,
    "potassium": 0.2,
    "hgb": 0.4,
    "inr": 0.25,
    "bicarb": 1.2,
}
RELATIVE_NOISE = 0.1  # for everything else: tsh, bnp, uacr, tg, ...


class Course:
    """Runs one patient's chronic conditions; ``visit`` returns the next encounter."""

    def __init__(self, patient: Patient, rng: random.Random, first_day: date):
        self.p = patient
        self.rng = rng
        self.first_day = first_day
        self.marker_cond = {c.marker: c for k in patient.conditions if (c := CONDITIONS[k]).marker}
        self.dx_value = {k: rng.uniform(*CONDITIONS[k].dx_range) for k in patient.conditions}
        self.pre_value = {k: rng.uniform(*CONDITIONS[k].normal) for k in patient.conditions}
        self.normals: dict[str, float] = {}
        ckd = "ckd" in patient.conditions
        self.egfr0 = (
            rng.uniform(46, 58) if ckd else rng.uniform(68, 104) - max(0, patient.age(first_day) - 60)
        )
        self.egfr_rate = (
            rng.uniform(2.5, 4.5)
            if ckd
            else rng.uniform(1.2, 2.6)
            if "dm2" in patient.conditions
            else rng.uniform(0.4, 1.2)
        )
        self.egfr_floor = rng.uniform(17, 24) if ckd else rng.uniform(35, 50)
        self.weight_drift = rng.uniform(-0.6, 0.8)
        self.diagnosed: dict[str, date] = {}
        self.step: dict[str, int] = {}
        self.last_change: dict[str, date] = {}
        self.caps: dict[str, Med | None] = {}  # safety-rule dose ceilings; None = stopped for good
        self.extra: dict[str, Med] = {}  # orders outside any ladder (warfarin, reduced apixaban, bursts)
        self.expiring: dict[str, str] = {}  # short courses to close at the next encounter
        self.reasons: dict[str, str] = {}
        self.switched: dict[str, str] = {}  # drug -> substitute after an intolerance
        self.meds: dict[str, Med] = {}
        self.dose_hist: dict[str, tuple[date, Med | None, Med | None]] = {}  # drug -> (since, before, now)
        self.last_lab: dict[str, date] = {}
        self.recheck: dict[str, bool] = {}
        self.gave: dict[str, list[date]] = {}  # immunization / procedure -> dates

    # --- physiology -------------------------------------------------------------------------------

    def _normal(self, key: str) -> float:
        if key not in self.normals:
            if key == "hgb":
                lo, hi = (12.3, 14.6) if self.p.sex == "female" else (13.6, 16.4)
            else:
                lo, hi = NORMALS[key]
            self.normals[key] = self.rng.uniform(lo, hi)
        return self.normals[key]

    def _marker_base(self, cond: Condition, day: date) -> float:
        dx = self.p.conditions[cond.key]
        t = (day - dx).days
        if t >= 0:
            return self.dx_value[cond.key] + cond.drift * t / 365
        lead = 730  # markers drift toward the diagnostic value over ~2 years before diagnosis
        frac = max(0.0, (t + lead) / lead)
        return self.pre_value[cond.key] + (self.dx_value[cond.key] - self.pre_value[cond.key]) * frac

    def _effect(self, key: str, day: date) -> float:
        mode, table = EFFECTS[key]
        neutral = 0.0 if mode == "add" else 1.0
        total = neutral
        for drug, (since, before, now) in self.dose_hist.items():
            e0 = table.get((drug, before.dose), neutral) if before else neutral
            e1 = table.get((drug, now.dose), neutral) if now else neutral
            if e0 == neutral and e1 == neutral:
                continue
            frac = min(1.0, (day - since).days / RAMP_DAYS.get(key, 21))
            e = e0 + (e1 - e0) * frac
            total = total + e if mode == "add" else total * e
        return total

    def egfr(self, day: date) -> float:
        """Declines at ``egfr_rate``/yr at first, flattening toward a floor (no one here reaches dialysis)."""
        years = (day - self.first_day).days / 365
        excess = max(1.0, self.egfr0 - self.egfr_floor)
        return self.egfr_floor + excess * math.exp(-self.egfr_rate * years / excess)

    def true_value(self, key: str, day: date) -> float:
        if key == "egfr":
            return self.egfr(day)
        if key == "creatinine":  # CKD-EPI 2021 solved for creatinine, so the two always agree
            kappa, alpha = (0.7, 1.012) if self.p.sex == "female" else (0.9, 1.0)
            ratio = self.egfr(day) / (142 * alpha * 0.9938 ** self.p.age(day))
            return kappa * ratio ** (-1 / 1.2 if ratio < 1 else -1 / 0.241)
        if key == "glucose":
            return 28.7 * self.true_value("hba1c", day) - 46.7  # ADAG estimated average glucose
        cond = self.marker_cond.get(key)
        base = self._marker_base(cond, day) if cond else self._normal(key)
        if key == "potassium":
            base += 0.25 * any(d in self.meds for d in ("lisinopril", "losartan", "spironolactone"))
            base += 0.3 * ("ckd" in self.p.conditions) + 0.4 * ("spironolactone" in self.meds)
        if key == "hgb" and "ckd" in self.p.conditions:
            base -= 1.2
        if key == "inr" and "warfarin" in self.meds:
            base += 1.5 * self.meds["warfarin"].amount / self.p.warfarin_mg_for_inr
        if key in EFFECTS:
            mode = EFFECTS[key][0]
            eff = self._effect(key, day)
            base = base + eff if mode == "add" else base * eff
        return base

    def measure(self, key: str, day: date) -> float:
        v = self.true_value(key, day)
        v = (
            v + self.rng.gauss(0, NOISE[key])
            if key in NOISE
            else v * math.exp(self.rng.gauss(0, RELATIVE_NOISE))
        )
        if key in ("phq9", "act", "cat"):
            v = min(27 if key == "phq9" else 40, max(0, v))
        if key in ("act",):
            v = min(25, v)
        return max(v, 0.01)

    def vitals(self, day: date) -> dict[str, float]:
        sbp = self.measure("sbp", day)
        years = (day - self.first_day).days / 365
        copd = "copd" in self.diagnosed
        return {
            "sbp": sbp,
            "dbp": 0.55 * sbp + 10 + self.rng.gauss(0, 4),
            "hr": self.measure("hr", day),
            "rr": self.rng.randint(16, 20) if copd else self.rng.randint(12, 18),
            "temp": self.rng.uniform(36.4, 37.2),
            "spo2": self.rng.randint(89, 94) if copd else self.rng.randint(95, 99),
            "weight": self.p.weight_kg + self.weight_drift * years + self.rng.gauss(0, 0.6),
        }

    # --- orders -----------------------------------------------------------------------------------

    def implied_meds(self) -> dict[str, Med]:
        """The med list the ladders, safety rules and extras imply right now."""
        meds: dict[str, Med] = {}
        for key in self.diagnosed:
            cond = CONDITIONS[key]
            for step in cond.ladder[: self.step[key] + 1]:
                if step.replaces:
                    meds.pop(step.replaces, None)
                if step.med.drug not in meds or step.med.amount > meds[step.med.drug].amount:
                    meds[step.med.drug] = step.med
            for med in cond.fixed:
                meds.setdefault(med.drug, med)
        for drug, sub in self.switched.items():
            if drug in meds:
                old = meds.pop(drug)
                meds[sub] = Med(sub, INTOLERANCE[drug][2][old.dose], "daily" if sub == "losartan" else "qHS")
        for drug, cap in self.caps.items():
            if drug in meds and (cap is None or meds[drug].amount > cap.amount):
                if cap is None:
                    del meds[drug]
                else:
                    meds[drug] = cap
        meds.update(self.extra)
        return meds

    def _apply(self, day: date, default_reason: str) -> list[MedChange]:
        new = self.implied_meds()
        changes: list[MedChange] = []
        for drug, med in new.items():
            old = self.meds.get(drug)
            if old == med:
                continue
            reason = self.reasons.get(drug, default_reason)
            if old is None:
                changes.append(MedChange("started", med, None, reason))
            else:
                action = "increased" if med.amount > old.amount else "decreased"
                changes.append(MedChange(action, med, old, reason))
            self.dose_hist[drug] = (day, old, med)
        for drug, old in self.meds.items():
            if drug not in new:
                changes.append(MedChange("stopped", old, None, self.reasons.get(drug, default_reason)))
                self.dose_hist[drug] = (day, old, None)
        self.meds = new
        self.reasons = {}
        return changes

    def start_record(self) -> None:
        """Pre-existing conditions: their meds were started long before the first encounter."""
        for key, dx in self.p.conditions.items():
            if dx < self.first_day:
                self.diagnosed[key] = dx
                self.step[key] = min(self.p.start_steps.get(key, 0), max(0, len(CONDITIONS[key].ladder) - 1))
                self.last_change[key] = dx
                if key == "af" and self.p.anticoagulant == "warfarin":
                    self._start_warfarin()
        self.meds = self.implied_meds()
        long_ago = self.first_day - timedelta(days=365)
        self.dose_hist = {d: (long_ago, None, m) for d, m in self.meds.items()}

    def _start_warfarin(self) -> None:
        self.caps["apixaban"] = None
        self.extra["warfarin"] = Med("warfarin", f"{round(self.p.warfarin_mg_for_inr)} mg", "daily")

    def marker_text(self, key: str, value: float, vitals: dict[str, float]) -> str:
        if key == "sbp":
            return f"BP {fmt_bp(vitals['sbp'], vitals['dbp'])}"
        if key == "hr":
            return f"HR {round(value)}"
        return f"{LABS[key].label} {fmt_value(key, value)}"

    # --- one visit --------------------------------------------------------------------------------

    def _due_labs(self, day: date, new_keys: list[str]) -> list[str]:
        wanted: dict[str, int] = {"hgb": 365, "wbc": 365, "plt": 365}
        if self.p.age(day) >= 45:
            wanted.update({"creatinine": 540, "egfr": 540, "potassium": 540, "sodium": 540, "ldl": 1095})
        if self.p.age(day) >= 40 and "dm2" not in self.p.conditions:
            wanted["hba1c"] = 1095
        for key in [*self.diagnosed, *new_keys]:
            for lab, interval in CONDITIONS[key].monitor.items():
                wanted[lab] = min(wanted.get(lab, interval), interval)
        if "warfarin" in self.meds:
            wanted["inr"] = 0
        due = []
        for lab, interval in wanted.items():
            last = self.last_lab.get(lab)
            if last is None or (day - last).days >= interval * 0.9 or self.recheck.get(lab):
                due.append(lab)
        for key in new_keys:
            marker = CONDITIONS[key].marker
            if marker in LABS and marker not in due:
                due.append(marker)
        order = list(LABS)
        return sorted(due, key=order.index)

    def visit(self, day: date, kind: str, clinician: str) -> Encounter:
        enc = Encounter(day, kind, clinician, self.vitals(day))
        for drug, why in self.expiring.items():
            self.extra.pop(drug, None)
            self.reasons[drug] = why
        self.expiring = {}
        new_keys = [k for k, dx in self.p.conditions.items() if k not in self.diagnosed and dx <= day]
        for lab in self._due_labs(day, new_keys):
            enc.labs.append((lab, self.measure(lab, day)))
            self.last_lab[lab] = day
            self.recheck[lab] = False
        values = dict(enc.labs) | {"sbp": enc.vitals["sbp"], "hr": enc.vitals["hr"]}
        for key in new_keys:
            self._diagnose(key, day, values, enc)
        for key in list(self.diagnosed):
            if key not in new_keys:
                self._titrate(key, day, values, enc)
        self._safety_rules(day, values, enc)
        enc.changes = self._apply(day, "per plan")
        enc.meds = list(self.meds.values())
        enc.problems = list(self.diagnosed)
        self._symptoms(enc, values)
        immunize(self, day, enc)
        screen(self, day, enc)
        return enc

    def _diagnose(self, key: str, day: date, values: dict[str, float], enc: Encounter) -> None:
        cond = CONDITIONS[key]
        self.diagnosed[key] = day
        self.step[key] = 0
        self.last_change[key] = day
        enc.new_dx.append(f"{cond.name} ({cond.icd10})")
        why = f"new dx of {cond.abbrev}"
        if cond.marker in values:
            why += f", {self.marker_text(cond.marker, values[cond.marker], enc.vitals)}"
        for med in [*(s.med for s in cond.ladder[:1]), *cond.fixed]:
            self.reasons[med.drug] = why
        if key == "af" and self.p.anticoagulant == "warfarin":
            self._start_warfarin()
            self.reasons["warfarin"] = "stroke prevention in AF, goal INR 2-3"
        elif key == "af":
            self.reasons["apixaban"] = "stroke prevention in AF"
        if cond.marker in LABS:
            self.recheck[cond.marker] = False

    def _titrate(self, key: str, day: date, values: dict[str, float], enc: Encounter) -> None:
        cond = CONDITIONS[key]
        value = values.get(cond.marker) if cond.marker else None
        if value is None or (day - self.last_change[key]).days < cond.settle_days:
            return
        value = round(value, LABS[cond.marker].decimals) if cond.marker in LABS else round(value)
        out = value > cond.goal if cond.direction < 0 else value < cond.goal  # as charted, not hidden digits
        if not out or self.step[key] >= len(cond.ladder) - 1:
            return
        self.step[key] += 1
        self.last_change[key] = day
        step = cond.ladder[self.step[key]]
        side = "above" if cond.direction < 0 else "below"
        self.reasons[step.med.drug] = f"{self.marker_text(cond.marker, value, enc.vitals)}, {side} goal"
        if step.replaces:
            self.reasons[step.replaces] = f"stepped up to {step.med.drug}"
        if cond.marker in LABS:
            self.recheck[cond.marker] = False
            self.last_lab[cond.marker] = day - timedelta(
                days=max(0, CONDITIONS[key].monitor.get(cond.marker, 365) - cond.settle_days)
            )  # recheck once the new dose has settled

    def _safety_rules(self, day: date, values: dict[str, float], enc: Encounter) -> None:
        egfr = values.get("egfr")
        if egfr is not None and "metformin" in self.meds:
            shown = fmt_value("egfr", egfr)
            if round(egfr) < 30:
                self.caps["metformin"] = None
                self.reasons["metformin"] = f"eGFR {shown}, contraindicated below 30"
            elif round(egfr) < 45 and self.meds["metformin"].amount > 500:
                self.caps["metformin"] = Med("metformin", "500 mg", "BID")
                self.reasons["metformin"] = f"eGFR {shown}; max 1000 mg/day when eGFR 30-45"
        if "apixaban" in self.meds and self.meds["apixaban"].dose == "5 mg":
            age, weight, cr = self.p.age(day), enc.vitals["weight"], values.get("creatinine")
            met = [f"age {age}"] if age >= 80 else []
            met += [f"wt {weight:.1f} kg"] if weight <= 60 else []
            met += [f"Cr {fmt_value('creatinine', cr)}"] if cr is not None and round(cr, 2) >= 1.5 else []
            if len(met) >= 2:
                self.caps["apixaban"] = Med("apixaban", "2.5 mg", "BID")
                self.reasons["apixaban"] = "meets 2 of 3 dose-reduction criteria (" + ", ".join(met) + ")"
        inr = values.get("inr")
        if inr is not None and "warfarin" in self.meds:
            dose = self.meds["warfarin"].amount
            new = dose + 1 if round(inr, 1) < 2.0 else dose - 1 if round(inr, 1) > 3.0 else dose
            new = min(10, max(1, new))
            if new != dose:
                self.extra["warfarin"] = Med("warfarin", f"{new:g} mg", "daily")
                self.reasons["warfarin"] = f"INR {fmt_value('inr', inr)}, goal 2-3"
                self.recheck["inr"] = True
        potassium = values.get("potassium")
        if potassium is not None and round(potassium, 1) > 5.5 and "spironolactone" in self.meds:
            self.caps["spironolactone"] = None
            self.reasons["spironolactone"] = f"hyperkalemia, K {fmt_value('potassium', potassium)}"
        self._intolerance(day, enc)
        self._bursts(values)

    def _intolerance(self, day: date, enc: Encounter) -> None:
        drug = self.p.intolerance
        if not drug or drug not in self.meds or drug in self.switched:
            return
        if (day - self.dose_hist[drug][0]).days < 45 or self.rng.random() > 0.4:
            return
        symptom, sub, _ = INTOLERANCE[drug]
        self.switched[drug] = sub
        self.reasons[drug] = f"{symptom} attributed to {drug}"
        self.reasons[sub] = f"in place of {drug} ({symptom})"
        enc.complaints.append(symptom)

    def _bursts(self, values: dict[str, float]) -> None:
        bad = values.get("act", 99) < 14 or values.get("cat", 0) > 24
        if bad and "prednisone" not in self.meds and self.rng.random() < 0.5:
            self.extra["prednisone"] = Med("prednisone", "40 mg", "daily x5 days")
            self.reasons["prednisone"] = "exacerbation"
            self.expiring["prednisone"] = "5-day burst completed"

    def _symptoms(self, enc: Encounter, values: dict[str, float]) -> None:
        conds = [CONDITIONS[k] for k in enc.problems]
        pool_c = [c for cond in conds for c in cond.complaints]
        pool_n = [n for cond in conds for n in cond.negatives]
        enc.complaints += self.rng.sample(pool_c, min(len(pool_c), self.rng.randint(0, 2)))
        enc.negatives += self.rng.sample(pool_n, min(len(pool_n), self.rng.randint(2, 4)))
        enc.exam += [self.rng.choice(cond.exam) for cond in conds if cond.exam]  # one finding each
