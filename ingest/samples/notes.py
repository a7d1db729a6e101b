"""Free-text clinician notes: SOAP-ish, abbreviated, with negations, never two alike.

Phrasing comes from small template pools mixed by the seeded RNG; the facts inside (values, doses,
reasons) come from the encounter, so a note agrees with the structured lines above it.
"""

from __future__ import annotations

import random

from .clinical import LABS, fmt_bp, fmt_value
from .conditions import CONDITIONS
from .patient import Encounter, Patient

ROS_NEG = [
    "denies fevers/chills",
    "no N/V/D",
    "denies dysuria",
    "no rashes",
    "denies HA",
    "no wt loss",
    "denies CP",
    "no palpitations",
    "denies abd pain",
    "no melena/BRBPR",
    "denies LE swelling",
    "no cough",
    "denies falls",
    "no dizziness",
    "denies new joint pain",
]
EXAM = [
    "Gen: NAD, A&Ox3",
    "HEENT: MMM, OP clear",
    "Neck: supple, no LAD",
    "CV: RRR, no m/r/g",
    "Lungs: CTAB",
    "Abd: soft, NT/ND, +BS",
    "Ext: no c/c/e",
    "Skin: warm, dry, intact",
    "Neuro: grossly nonfocal",
    "Psych: nl mood/affect",
]
COUNSEL = [
    "Reviewed diet, encouraged 150 min/wk moderate activity.",
    "Med rec completed, pt uses a pillbox.",
    "Pt reports good adherence, no missed doses.",
    "Discussed sleep hygiene.",
    "Reviewed home BP log.",
    "Reinforced low-sodium diet.",
    "Pt prefers to avoid new meds if possible, shared decision-making.",
    "Daughter present for visit, questions answered.",
    "Reviewed labs w/ pt in detail.",
    "Pt asks about supplements; advised to bring bottles next visit.",
    "Fall precautions reviewed.",
]
CLOSE = [
    "RTC 3 mo, sooner PRN.",
    "f/u 6 wks w/ labs.",
    "Return in 4-6 mo or sooner if worse.",
    "Pt verbalized understanding, agrees w/ plan.",
    "Will call w/ lab results.",
    "f/u 2-3 mo.",
    "ED precautions reviewed.",
    "Next visit: annual labs.",
]
SUBSTITUTES = {"lisinopril": "losartan", "atorvastatin": "rosuvastatin", "apixaban": "warfarin"}
OPEN = [
    "{age}yo {sx} w/ PMH {pmh} presents for {why}.",
    "Pt is a {age} y/o {sx} w/ hx of {pmh}, here for {why}.",
    "{hon} is a {age}-year-old {sexword} with {pmh} seen today for {why}.",
    "{age}{sx} ({pmh}) in clinic for {why}.",
    "Seen for {why}. {age} y/o {sx}, PMH sig for {pmh}.",
]

OPEN_HEALTHY = [
    "{age}yo {sx}, no significant PMH, presents for {why}.",
    "Pt is a healthy {age} y/o {sx} here for {why}.",
    "{hon} is a {age}-year-old {sexword} without chronic medical problems, seen today for {why}.",
]


def _pmh(p: Patient, enc: Encounter) -> str:
    names = [CONDITIONS[k].abbrev for k in enc.problems]
    return ", ".join(names) if names else "no significant PMH"


def _why(enc: Encounter, rng: random.Random) -> str:
    if enc.new_dx:
        return rng.choice(["eval of abnormal labs", "new concerns", "f/u of recent results"])
    if "Annual" in enc.kind:
        return rng.choice(["annual physical", "yearly wellness exam", "annual exam + labs"])
    if enc.kind.startswith("Acute"):
        return rng.choice(["acute visit", "same-day appt", "sick visit"])
    return rng.choice(["routine f/u", "chronic disease f/u", "med check", "3-mo f/u", "scheduled f/u"])


def _subjective(p: Patient, enc: Encounter, rng: random.Random) -> str:
    sx = "F" if p.sex == "female" else "M"
    opener = rng.choice(OPEN if enc.problems else OPEN_HEALTHY).format(
        age=p.age(enc.day),
        sx=sx,
        pmh=_pmh(p, enc),
        why=_why(enc, rng),
        hon=p.honorific,
        sexword="woman" if sx == "F" else "man",
    )
    parts = [opener]
    if enc.complaints:
        lead = rng.choice(["c/o", "Reports", "Endorses", "Notes"])
        parts.append(f"{lead} {' and '.join(enc.complaints)}.")
    else:
        parts.append(rng.choice(["No new complaints.", "Feels well overall.", "Doing ok, no acute issues."]))
    negs = enc.negatives + rng.sample(ROS_NEG, rng.randint(1, 3))
    text = "; ".join(negs)
    parts.append(text[0].upper() + text[1:] + ".")
    if rng.random() < 0.5:
        parts.append(rng.choice(COUNSEL))
    return "S: " + " ".join(parts)


def _objective(enc: Encounter, prior: dict[str, float], rng: random.Random) -> str:
    v = enc.vitals
    parts = [f"BP {fmt_bp(v['sbp'], v['dbp'])}, HR {round(v['hr'])}, SpO2 {round(v['spo2'])}% RA."]
    exam = rng.sample(EXAM, rng.randint(3, 6)) + enc.exam
    parts.append(" ".join(e[0].upper() + e[1:].rstrip(".") + "." for e in exam))
    shown = []
    for key, value in enc.labs[:6]:
        text = f"{LABS[key].label} {fmt_value(key, value)}"
        if key in prior and rng.random() < 0.6:
            text += f" (prior {fmt_value(key, prior[key])})"
        shown.append(text)
    if shown:
        parts.append("Labs: " + ", ".join(shown) + ".")
    return "O: " + " ".join(parts)


def _plan_lines(enc: Encounter, rng: random.Random) -> list[str]:
    lines, used = [], set()
    for key in enc.problems:
        cond = CONDITIONS[key]
        drugs = {s.med.drug for s in cond.ladder} | {m.drug for m in cond.fixed}
        drugs |= {sub for drug, sub in SUBSTITUTES.items() if drug in drugs}
        mine = [c for c in enc.changes if c.med.drug in drugs and id(c) not in used]
        used |= {id(c) for c in mine}
        if mine:
            plan = " ".join(f"{c} ({c.reason})." for c in mine)
        else:
            current = [str(m) for m in enc.meds if m.drug in drugs]
            plan = (
                "Cont " + ", ".join(current) + "."
                if current
                else rng.choice(["Monitor.", "Lifestyle measures for now.", "No tx changes."])
            )
        status = rng.choice(["stable", "at goal", "improving"]) if not mine else "not at goal"
        if any(cond.name in dx for dx in enc.new_dx):
            status = "new dx"
        lines.append(f"{cond.abbrev} - {status}. {plan}")
    extra = [c for c in enc.changes if id(c) not in used]
    if extra:
        lines.append("Meds: " + " ".join(f"{c} ({c.reason})." for c in extra))
    for name, finding in enc.procedures:
        lines.append(f"{name.capitalize()}: {finding}.")
    if enc.immunizations:
        lines.append("HCM: " + "; ".join(i.split(" IM")[0] for i in enc.immunizations) + " given today.")
    return lines


def clinic_note(p: Patient, enc: Encounter, prior: dict[str, float], rng: random.Random) -> str:
    """A SOAP-style note for an outpatient visit."""
    plan = _plan_lines(enc, rng) + enc.assessment
    body = [_subjective(p, enc, rng), _objective(enc, prior, rng), "A/P:"]
    body += [f"{i}. {line}" for i, line in enumerate(plan, 1)]
    infusion = enc.kind.startswith("Oncology infusion")
    body.append("Next cycle in 2 wks if counts allow." if infusion else rng.choice(CLOSE))
    return "\n".join(body)


INTERVAL = [
    "No acute events overnight.",
    "Tmax {tmax:.1f}. Slept poorly.",
    "Overnight: 1 episode of desaturation, resolved w/ suctioning.",
    "RN reports pt more alert this AM.",
    "Family at bedside, updated.",
    "Tolerating diet.",
    "Pain controlled.",
]
INPATIENT_SUBJ = [
    "Pt reports breathing is easier.",
    "Pt sedated on vent, unable to provide hx.",
    "Pt c/o fatigue, denies CP.",
    "Reports less SOB than yesterday.",
    "Appetite improving; denies N/V.",
    "No new complaints this AM.",
]


def inpatient_note(p: Patient, enc: Encounter, rng: random.Random) -> str:
    """A daily progress note: interval events, brief subjective, vitals, and the team's plan."""
    v = enc.vitals
    interval = rng.choice(INTERVAL).format(tmax=v["temp"])
    body = [
        f"Interval: {interval} {p.honorific}, {p.age(enc.day)}yo, {enc.kind.split(' - ')[0]}.",
        "S: " + rng.choice(INPATIENT_SUBJ),
        f"O: T {v['temp']:.1f}, BP {fmt_bp(v['sbp'], v['dbp'])}, HR {round(v['hr'])}, RR {round(v['rr'])}, "
        f"SpO2 {round(v['spo2'])}%. " + " ".join(e + "." for e in rng.sample(EXAM, 3)),
        "A/P:",
    ]
    body += [f"{i}. {line}" for i, line in enumerate(enc.assessment, 1)]
    return "\n".join(body)
