"""The chronological part of a rendered FHIR history: one section per encounter, oldest first.

Each clinical resource becomes one line in the section of the encounter it references; a resource
without an encounter goes into a section for its date, and one whose encounter reference dangles into
a section headed "(unresolved reference)". Lines inside a section follow clinical order (findings,
then what was done), not input order. ``renderer`` is the :class:`fhir_render.PatientRenderer` that
owns reference labels and warnings (duck-typed here to keep the import one-way).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from ingest.readers.fhir_values import (
    ENCOUNTER_CLASSES,
    concept_text,
    concepts_text,
    dosage_text,
    fmt_date,
    interpretation_text,
    period_text,
    resource_date,
    value_text,
)

UNRESOLVED = "(unresolved reference)"
# Order of items inside one encounter: what was found, then what was done about it.
ORDER = {
    "AllergyIntolerance": 0,
    "Condition": 1,
    "Observation": 2,
    "DiagnosticReport": 3,
    "Procedure": 4,
    "Immunization": 5,
    "MedicationRequest": 6,
    "MedicationStatement": 6,
    "MedicationAdministration": 6,
    "CarePlan": 7,
    "ImagingStudy": 8,
    "DocumentReference": 9,
}
NOT_IN_TIMELINE = {"Encounter", "Goal", "Medication", "Organization", "Practitioner", "Location"}
BP_SYSTOLIC = "8480-6"  # LOINC code of the systolic blood-pressure component


@dataclass
class _Section:
    start: str
    heading: str
    extra: list[str] = field(default_factory=list)
    items: list[tuple[int, int, str]] = field(default_factory=list)  # (order, arrival, text)


def build_timeline(renderer) -> str:
    """The ``## Timeline`` block for the renderer's patient ("" when nothing is dated)."""
    consumed = _grouped_observations(renderer)
    sections: dict[object, _Section] = {}
    for r in renderer.resources:
        if r.get("resourceType") == "Encounter":
            heading, extra = encounter_heading(r, renderer)
            sections[id(r)] = _Section(resource_date(r), heading, extra)
    for arrival, res in enumerate(renderer.resources):
        rtype = res.get("resourceType")
        if rtype in NOT_IN_TIMELINE or id(res) in consumed:
            continue
        if rtype == "AllergyIntolerance" and not res.get("encounter"):
            continue  # the Allergies section has it; no visit to place it in
        text = item_text(res, renderer)
        if not text:
            continue
        date = resource_date(res)
        section = _section_for(res, date, renderer, sections)
        if date and date != section.start:
            text = f"{date}: {text}"
        section.items.append((ORDER.get(rtype, 10), arrival, text))
    ordered = sorted(sections.values(), key=lambda s: (s.start or "9999", s.heading))
    blocks = []
    for s in ordered:
        items = [f"- {text}" for _, _, text in sorted(s.items)]
        blocks.append("\n".join([s.heading, *s.extra, *items]))
    return "## Timeline\n\n" + "\n\n".join(blocks) if blocks else ""


def _section_for(res: dict, date: str, renderer, sections: dict) -> _Section:
    ref = res.get("encounter")
    context = res.get("context")
    if ref is None and isinstance(context, dict):
        encounters = context.get("encounter")
        ref = encounters[0] if isinstance(encounters, list) and encounters else context.get("encounter")
    encounter = renderer.resolve(ref, res, "encounter") if ref else None
    if encounter is not None and id(encounter) in sections:
        return sections[id(encounter)]
    dangling = bool(ref) and renderer.refs.resolve(ref)[1]
    key = ("unresolved" if dangling else "date", date)
    if key not in sections:
        label = f"encounter {UNRESOLVED}" if dangling else "recorded outside an encounter"
        sections[key] = _Section(date, f"### {date or 'date unknown'} · {label}")
    return sections[key]


def _grouped_observations(renderer) -> set[int]:
    """Observations written inside a report's or panel's line, so not again on their own."""
    consumed: set[int] = set()
    for res in renderer.resources:
        members = res.get("result") if res.get("resourceType") == "DiagnosticReport" else res.get("hasMember")
        for ref in members or []:
            target, _ = renderer.refs.resolve(ref)
            if target is not None and target is not res:
                consumed.add(id(target))
    return consumed


def encounter_heading(encounter: dict, renderer) -> tuple[str, list[str]]:
    """``### <dates> · <type> · <class> · <provider> · <practitioner>`` and its Reason/Discharge lines."""
    period = period_text(encounter.get("period")) or resource_date(encounter) or "date unknown"
    cls = encounter.get("class")
    cls_code = cls.get("code") if isinstance(cls, dict) else None
    parts = [
        period,
        concepts_text(encounter.get("type")) or "Encounter",
        ENCOUNTER_CLASSES.get(cls_code, cls_code or ""),
        renderer.label(encounter.get("serviceProvider"), encounter, "serviceProvider"),
    ]
    for participant in encounter.get("participant") or []:
        if isinstance(participant, dict) and participant.get("individual"):
            parts.append(renderer.label(participant["individual"], encounter, "participant"))
    extra = []
    reason = concepts_text(encounter.get("reasonCode")) or renderer.labels(
        encounter.get("reasonReference"), encounter, "reason"
    )
    if reason:
        extra.append(f"Reason: {reason}")
    hosp = encounter.get("hospitalization")
    if isinstance(hosp, dict) and concept_text(hosp.get("dischargeDisposition")):
        extra.append(f"Discharge: {concept_text(hosp['dischargeDisposition'])}")
    return "### " + " · ".join(dict.fromkeys(p for p in parts if p)), extra


def item_text(res: dict, renderer) -> str:
    """One resource as one timeline line (notes add their text as a paragraph after it)."""
    rtype = res.get("resourceType")
    if rtype == "Observation":
        return observation_text(res, renderer)
    if rtype == "Condition":
        end = fmt_date(res.get("abatementDateTime"))
        return f"Diagnosed: {concept_text(res.get('code')) or '(unnamed condition)'}" + (
            f" (resolved {end})" if end else ""
        )
    if rtype == "DiagnosticReport":
        return _report_text(res, renderer)
    if rtype == "Procedure":
        return (
            "Procedure: "
            + (concept_text(res.get("code")) or "(unnamed procedure)")
            + _reason(res, renderer)
            + (f" ({res['status']})" if res.get("status") not in (None, "completed") else "")
        )
    if rtype == "Immunization":
        return (
            "Immunization: "
            + (concept_text(res.get("vaccineCode")) or "(unnamed vaccine)")
            + (" (not given)" if res.get("status") == "not-done" else "")
        )
    if rtype in ("MedicationRequest", "MedicationStatement", "MedicationAdministration"):
        verb = "Prescribed" if rtype == "MedicationRequest" else "Medication"
        dosage = dosage_text(res.get("dosageInstruction") or res.get("dosage"))
        status = f" ({res['status']})" if res.get("status") not in (None, "active", "completed") else ""
        return (
            f"{verb}: {renderer.medication_name(res)}"
            + (f" ({dosage})" if dosage else "")
            + _reason(res, renderer)
            + status
        )
    if rtype == "CarePlan":
        return _care_plan_text(res, renderer)
    if rtype == "AllergyIntolerance":
        return "Allergy recorded: " + (concept_text(res.get("code")) or "(unnamed allergy)")
    if rtype == "ImagingStudy":
        return _imaging_text(res)
    if rtype == "DocumentReference":
        notes = [
            decode_attachment(c.get("attachment")) for c in res.get("content") or [] if isinstance(c, dict)
        ]
        return _with_notes(f"Note: {concept_text(res.get('type')) or 'clinical note'}", notes)
    name = concept_text(res.get("code"))
    return f"{rtype}: {name}" if name else ""


def observation_text(obs: dict, renderer) -> str:
    """``<name>: <value> <unit>`` (blood pressure as systolic/diastolic, panels with their members)."""
    name = concept_text(obs.get("code")) or "(unnamed observation)"
    components = [c for c in obs.get("component") or [] if isinstance(c, dict) and value_text(c)]
    if components:
        # systolic before diastolic, as clinicians write blood pressure; other panels keep their order
        components.sort(key=lambda c: _first_code(c.get("code")) != BP_SYSTOLIC)
        parts = [f"{concept_text(c.get('code'))} {value_text(c)}" for c in components]
        return f"{name}: " + "; ".join(parts) + interpretation_text(obs)
    value = value_text(obs)
    if value:
        return f"{name}: {value}{interpretation_text(obs)}"
    members = [renderer.refs.resolve(ref)[0] for ref in obs.get("hasMember") or []]
    member_texts = [observation_text(m, renderer) for m in members if m is not None and m is not obs]
    if member_texts:
        return f"{name} — " + "; ".join(member_texts)
    absent = concept_text(obs.get("dataAbsentReason"))
    return f"{name}: no value ({absent})" if absent else name


def _first_code(concept) -> str:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get("code"):
                return str(coding["code"])
    return ""


def _report_text(report: dict, renderer) -> str:
    name = concept_text(report.get("code")) or "(unnamed report)"
    results = []
    for ref in report.get("result") or []:
        obs = renderer.resolve(ref, report, "result")
        if obs is not None:
            results.append(observation_text(obs, renderer))
        elif renderer.refs.resolve(ref)[1]:
            results.append(UNRESOLVED)
    text = f"{name} (report)" + (" — " + "; ".join(results) if results else "")
    if isinstance(report.get("conclusion"), str) and report["conclusion"].strip():
        text += f"; conclusion: {' '.join(report['conclusion'].split())}"
    notes = [decode_attachment(a) for a in report.get("presentedForm") or []]
    return _with_notes(text, notes)


def _with_notes(text: str, notes: list[str]) -> str:
    notes = [n for n in notes if n]
    return text + "".join(f"\n\n{n}\n" for n in notes)


def _reason(res: dict, renderer) -> str:
    reason = renderer.labels(res.get("reasonReference"), res, "reason") or concepts_text(
        res.get("reasonCode")
    )
    return f" for {reason}" if reason else ""


def _care_plan_text(plan: dict, renderer) -> str:
    text = "Care plan: " + (concepts_text(plan.get("category")) or "(unnamed plan)")
    activities = []
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") if isinstance(activity, dict) else None
        if isinstance(detail, dict) and concept_text(detail.get("code")):
            activities.append(concept_text(detail["code"]))
    if activities:
        text += "; activities: " + ", ".join(dict.fromkeys(activities))
    addresses = renderer.labels(plan.get("addresses"), plan, "addresses")
    if addresses:
        text += f"; for {addresses}"
    goals = renderer.labels(plan.get("goal"), plan, "goal")
    if goals:
        text += f"; goals: {goals}"
    period = period_text(plan.get("period"))
    if plan.get("status"):
        text += f" ({plan['status']}{', ' + period if ' to ' in period else ''})"
    return text


def _imaging_text(study: dict) -> str:
    series = []
    for s in study.get("series") or []:
        if isinstance(s, dict):
            modality, site = concept_text(s.get("modality")), concept_text(s.get("bodySite"))
            series.append(f"{modality} of {site}" if modality and site else modality or site)
    return "Imaging: " + (
        ", ".join(x for x in series if x) or concepts_text(study.get("modality")) or "study"
    )


def decode_attachment(attachment) -> str:
    """Plain-text note content carried inline (base64) in an Attachment; "" for other content."""
    if not isinstance(attachment, dict) or not attachment.get("data"):
        return ""
    if not str(attachment.get("contentType", "text/plain")).startswith("text/"):
        return ""
    try:
        return base64.b64decode(attachment["data"], validate=False).decode("utf-8", "replace").strip()
    except (binascii.Error, ValueError):
        return ""
