"""One patient's FHIR R4 resources rendered as a readable, chronological history (own code).

The text is what a clinician reads and what a 100K-token prompt holds, so it is compact and plain:

    # Patient record: <name>                    header: id, birth date, sex, place, record span
    ## Allergies / Active problems / Past problems / Current medications / Past medications /
    ## Immunizations                            one line per item, with dates
    ## Timeline                                 one ``###`` section per encounter, oldest first:
    ### 2012-08-01 · Emergency Room Admission · emergency · <provider>
    - Diagnosed: ... / <observation>: <value> <unit> / <report>: results / Procedure: ... /
      Immunization: ... / Prescribed: ... / Care plan: ...

An item dated on another day than its encounter starts with its own date. Observations that are the
results of a DiagnosticReport are written once, inside the report's line. Billing resources never
reach this module. Dangling references render as "(unresolved reference)" and are counted in
``warnings``.
"""

from __future__ import annotations

from collections import Counter

from ingest.readers.fhir_refs import References, reference_target
from ingest.readers.fhir_timeline import build_timeline
from ingest.readers.fhir_values import (
    address_text,
    concept_text,
    concepts_text,
    dosage_text,
    fmt_date,
    human_name,
    period_text,
    resource_date,
    status_code,
)

UNRESOLVED = "(unresolved reference)"


class PatientRenderer:
    """Renders one patient; ``warnings`` collects dangling references met on the way."""

    def __init__(self, patient: dict | None, patient_id: str, resources: list[dict], refs: References):
        self.patient = patient or {}
        self.patient_id = patient_id
        self.resources = resources
        self.refs = refs
        self.warnings: list[str] = []

    # -- references -------------------------------------------------------------------------------

    def resolve(self, ref, owner: dict, role: str) -> dict | None:
        resource, dangling = self.refs.resolve(ref)
        if dangling:
            self.warnings.append(
                f"{owner.get('resourceType')}/{owner.get('id')}: {role} {reference_target(ref)} not found"
            )
        return resource

    def label(self, ref, owner: dict, role: str) -> str:
        """What a reference points at, in words; UNRESOLVED when it points at nothing here."""
        resource = self.resolve(ref, owner, role)
        if resource is None:
            if self.refs.resolve(ref)[1]:
                return UNRESOLVED
            return " ".join(str(ref.get("display", "")).split()) if isinstance(ref, dict) else ""
        if resource.get("resourceType") in ("Practitioner", "Patient", "RelatedPerson"):
            return human_name(resource.get("name"))
        if isinstance(resource.get("name"), str):
            return resource["name"]
        for key in ("code", "medicationCodeableConcept", "vaccineCode", "description", "type"):
            text = concepts_text(resource.get(key))
            if text:
                return text
        return resource.get("resourceType", "")

    def labels(self, refs, owner: dict, role: str) -> str:
        if not isinstance(refs, list):
            return ""
        return ", ".join(t for t in (self.label(r, owner, role) for r in refs) if t)

    # -- the document -----------------------------------------------------------------------------

    def render(self) -> str:
        parts = [self._header(), *self._summary_sections(), self._timeline()]
        return "\n\n".join(p for p in parts if p)

    def _header(self) -> str:
        p = self.patient
        name = human_name(p.get("name")) or "(no name recorded)"
        facts = [f"Patient id: {self.patient_id}"]
        if p.get("birthDate"):
            facts.append(f"Born: {fmt_date(p['birthDate'])}")
        if p.get("gender"):
            facts.append(f"Sex: {p['gender']}")
        if address_text(p.get("address")):
            facts.append(f"Lives in: {address_text(p.get('address'))}")
        lines = [f"# Patient record: {name}", " · ".join(facts)]
        race, ethnicity = _us_core_text(p, "us-core-race"), _us_core_text(p, "us-core-ethnicity")
        if race or ethnicity:
            lines.append(
                " · ".join(
                    x
                    for x in (f"Race: {race}" if race else "", f"Ethnicity: {ethnicity}" if ethnicity else "")
                    if x
                )
            )
        if p.get("deceasedDateTime") or p.get("deceasedBoolean"):
            lines.append(f"Deceased: {fmt_date(p.get('deceasedDateTime')) or 'yes'}")
        if not self.patient:
            lines.append("(the input holds no Patient resource for this id)")
        dates = sorted(d for d in (resource_date(r) for r in self.resources) if d)
        n_enc = sum(1 for r in self.resources if r.get("resourceType") == "Encounter")
        if dates:
            lines.append(
                f"Records from {dates[0]} to {dates[-1]}: {n_enc} encounter{'' if n_enc == 1 else 's'}."
            )
        return "\n".join(lines)

    def _of_type(self, *types: str) -> list[dict]:
        return [r for r in self.resources if r.get("resourceType") in types]

    def _summary_sections(self) -> list[str]:
        return [
            self._allergies(),
            *self._problems(),
            *self._medications(),
            self._immunizations(),
        ]

    def _allergies(self) -> str:
        lines = []
        for a in self._of_type("AllergyIntolerance"):
            categories = a.get("category") if isinstance(a.get("category"), list) else []
            details = [", ".join(str(c) for c in categories if isinstance(c, str))]
            if a.get("criticality"):
                details.append(f"criticality {a['criticality']}")
            desc = concept_text(a.get("code")) or "(unnamed allergy)"
            if any(details):
                desc += f" ({', '.join(d for d in details if d)})"
            reactions = []
            for reaction in a.get("reaction") or []:
                if isinstance(reaction, dict):
                    what = concepts_text(reaction.get("manifestation"))
                    sev = reaction.get("severity")
                    reactions.append(f"{what} ({sev})" if what and sev else what)
            if any(reactions):
                desc += f"; reaction: {', '.join(r for r in reactions if r)}"
            when = fmt_date(a.get("onsetDateTime")) or fmt_date(a.get("recordedDate"))
            status = status_code(a.get("clinicalStatus"))
            desc += "".join(f"; {x}" for x in (f"since {when}" if when else "", status) if x)
            lines.append(f"- {desc}")
        return "## Allergies\n" + ("\n".join(lines) if lines else "No allergies recorded.")

    def _problems(self) -> list[str]:
        by_name: dict[str, list[dict]] = {}
        for c in sorted(self._of_type("Condition"), key=resource_date):
            by_name.setdefault(concept_text(c.get("code")) or "(unnamed condition)", []).append(c)
        active, past = [], []
        for name, episodes in by_name.items():
            spans = []
            for c in episodes:
                onset = (
                    fmt_date(c.get("onsetDateTime")) or period_text(c.get("onsetPeriod")) or resource_date(c)
                )
                end = fmt_date(c.get("abatementDateTime")) or period_text(c.get("abatementPeriod"))
                spans.append(f"{onset} to {end}" if end else f"since {onset}" if onset else "date unknown")
            status = status_code(episodes[-1].get("clinicalStatus")) or "status unknown"
            is_active = status in ("active", "recurrence", "relapse") or (
                status == "status unknown" and not episodes[-1].get("abatementDateTime")
            )
            (active if is_active else past).append(f"- {name}: {'; '.join(spans)} ({status})")
        out = ["## Active problems\n" + ("\n".join(active) if active else "None recorded.")]
        if past:
            out.append("## Past problems\n" + "\n".join(past))
        return out

    def _medications(self) -> list[str]:
        by_name: dict[str, list[dict]] = {}
        for m in sorted(self._of_type("MedicationRequest", "MedicationStatement"), key=resource_date):
            by_name.setdefault(self.medication_name(m), []).append(m)
        current, past = [], []
        for name, orders in by_name.items():
            last = orders[-1]
            dates = [resource_date(o) for o in orders if resource_date(o)]
            desc = name
            dosage = dosage_text(last.get("dosageInstruction") or last.get("dosage"))
            if dosage:
                desc += f": {dosage}"
            if dates:
                desc += f"; first ordered {dates[0]}"
                if len(orders) > 1:
                    desc += f", last {dates[-1]} ({len(orders)} orders)"
            reason = self.labels(last.get("reasonReference"), last, "reason") or concepts_text(
                last.get("reasonCode")
            )
            if reason:
                desc += f"; for {reason}"
            status = last.get("status", "status unknown")
            (current if status in ("active", "on-hold", "draft") else past).append(f"- {desc} ({status})")
        out = ["## Current medications\n" + ("\n".join(current) if current else "None recorded.")]
        if past:
            out.append("## Past medications\n" + "\n".join(past))
        return out

    def medication_name(self, m: dict) -> str:
        if m.get("medicationCodeableConcept"):
            return concept_text(m["medicationCodeableConcept"]) or "(unnamed medication)"
        if m.get("medicationReference"):
            return self.label(m["medicationReference"], m, "medication") or "(unnamed medication)"
        return "(unnamed medication)"

    def _immunizations(self) -> str:
        by_name: dict[str, list[str]] = {}
        for i in sorted(self._of_type("Immunization"), key=resource_date):
            name = concept_text(i.get("vaccineCode")) or "(unnamed vaccine)"
            date = resource_date(i) or fmt_date(i.get("occurrenceString")) or "date unknown"
            by_name.setdefault(name, []).append(
                date + (" (not given)" if i.get("status") == "not-done" else "")
            )
        lines = [f"- {name}: {', '.join(dates)}" for name, dates in by_name.items()]
        return "## Immunizations\n" + ("\n".join(lines) if lines else "None recorded.")

    # -- the timeline -----------------------------------------------------------------------------

    def _timeline(self) -> str:
        return build_timeline(self)


def _us_core_text(patient: dict, name: str) -> str:
    for ext in patient.get("extension") or []:
        if isinstance(ext, dict) and str(ext.get("url", "")).endswith(name):
            for sub in ext.get("extension") or []:
                if isinstance(sub, dict) and sub.get("url") == "text":
                    return str(sub.get("valueString", ""))
    return ""


def resource_counts(resources: list[dict]) -> dict[str, int]:
    return dict(sorted(Counter(r.get("resourceType", "?") for r in resources).items()))
