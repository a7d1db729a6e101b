"""Markdown for a patient history: YAML front matter, a summary, then every encounter in date order."""

from __future__ import annotations

import json
from datetime import date

from .clinical import fmt_bp, lab_line
from .conditions import CONDITIONS
from .patient import Encounter, Patient


def front_matter(fields: dict[str, str]) -> str:
    """YAML front matter; values are JSON strings (valid YAML) so dates stay strings for the reader."""
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()]
    return "---\n" + "\n".join(lines) + "\n---\n"


def vitals_line(v: dict[str, float], height_cm: float) -> str:
    bmi = v["weight"] / (height_cm / 100) ** 2
    return (
        f"Vitals: BP {fmt_bp(v['sbp'], v['dbp'])} mmHg · HR {round(v['hr'])} bpm · RR {round(v['rr'])} · "
        f"Temp {v['temp']:.1f} °C · SpO2 {round(v['spo2'])}% · Wt {v['weight']:.1f} kg · BMI {bmi:.1f}"
    )


def encounter_block(p: Patient, enc: Encounter, note: str) -> str:
    """One encounter: header, structured lines, then the clinician's note."""
    out = [
        f"### {enc.day.isoformat()} · {enc.kind} · {enc.clinician}",
        "",
        vitals_line(enc.vitals, p.height_cm),
    ]
    if enc.labs:
        out += ["", "Labs:"] + [f"- {lab_line(k, v)}" for k, v in enc.labs]
    if enc.new_dx:
        out += ["", "New diagnoses: " + "; ".join(enc.new_dx)]
    if enc.details:
        out += [""] + [f"- {d}" for d in enc.details]
    if enc.changes:
        out += ["", "Medication changes:"] + [f"- {c} ({c.reason})" for c in enc.changes]
    if enc.procedures:
        out += ["", "Procedures:"] + [f"- {name}: {finding}" for name, finding in enc.procedures]
    if enc.immunizations:
        out += ["", "Immunizations given: " + "; ".join(enc.immunizations)]
    if enc.meds:
        label = "Home medications" if enc.inpatient else "Current medications"
        out += ["", f"{label}: " + "; ".join(str(m) for m in enc.meds)]
    out += ["", "Note:", note, ""]
    return "\n".join(out) + "\n"


def summary(p: Patient, encounters: list[Encounter]) -> str:
    """The chart's first screen: problems, allergies, current meds, histories, vaccines, procedures."""
    last = encounters[-1]
    dx_dates = {k: d for k, d in p.conditions.items() if d <= last.day}
    out = ["## Summary", "", "### Problem list"]
    for key, d in sorted(dx_dates.items(), key=lambda kv: kv[1]):
        cond = CONDITIONS[key]
        out.append(f"- {cond.name} ({cond.icd10}), diagnosed {d.isoformat()}")
    chronic = {f"{c.name} ({c.icd10})" for c in (CONDITIONS[k] for k in dx_dates)}
    out += [
        f"- {dx}, diagnosed {e.day.isoformat()}" for e in encounters for dx in e.new_dx if dx not in chronic
    ]
    out += ["", "### Allergies"]
    out += [f"- {a}: {r}" for a, r in p.allergies] or ["- NKDA"]
    out += ["", "### Current medications"] + [f"- {m}" for m in last.meds or []]
    if not last.meds:
        out.append("- none")
    out += ["", "### Family history"] + [f"- {f}" for f in p.family]
    out += ["", "### Social history"] + [f"- {k.capitalize()}: {v}" for k, v in p.social.items()]
    shots = [(e.day, i) for e in encounters for i in e.immunizations]
    out += ["", "### Immunizations"] + [f"- {d.isoformat()}: {i}" for d, i in shots]
    procs = [(e.day, n, f) for e in encounters for n, f in e.procedures]
    out += ["", "### Procedures"] + [f"- {d.isoformat()}: {n}, {f}" for d, n, f in procs]
    return "\n".join(out) + "\n"


def patient_document(p: Patient, encounters: list[Encounter], blocks: list[str]) -> str:
    first: date = encounters[0].day
    last: date = encounters[-1].day
    meta = {
        "doc_id": p.pid,
        "title": f"Medical history: {p.name}",
        "kind": "patient_history",
        "patient_id": p.pid,
        "name": p.name,
        "birth_date": p.birth.isoformat(),
        "sex": p.sex,
        "first_date": first.isoformat(),
        "last_date": last.isoformat(),
    }
    head = (
        f"# Medical history: {p.name}\n\nPatient ID: {p.pid} · DOB: {p.birth.isoformat()} · Sex: {p.sex} · "
        f"Record span: {first.isoformat()} to {last.isoformat()}\n\n"
        "Synthetic record generated for software testing; not a real person.\n\n"
    )
    return front_matter(meta) + "\n" + head + summary(p, encounters) + "\n## Encounters\n\n" + "".join(blocks)
