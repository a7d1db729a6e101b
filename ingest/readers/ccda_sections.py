"""C-CDA section entries as readable lines with dates (one renderer per section kind).

Sections are recognised by their LOINC code (the templateIds vary between C-CDA releases, the codes do
not). Each renderer reads the coded entries (allergen, problem, medication, result value and unit,
...); a section whose entries yield nothing falls back to its human-readable narrative block.
"""

from __future__ import annotations

import re

NS = "{urn:hl7-org:v3}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"

# LOINC section code -> (heading, kind of entries)
SECTIONS = {
    "48765-2": ("Allergies", "allergy"),
    "11450-4": ("Problems", "problem"),
    "11348-0": ("Past medical history", "problem"),
    "10160-0": ("Medications", "medication"),
    "10183-2": ("Discharge medications", "medication"),
    "11369-6": ("Immunizations", "immunization"),
    "30954-2": ("Results", "result"),
    "8716-3": ("Vital signs", "result"),
    "47519-4": ("Procedures", "procedure"),
    "46240-8": ("Encounters", "encounter"),
    "18776-5": ("Plan of care", "plan"),
    "29762-2": ("Social history", "observation"),
    "10157-6": ("Family history", "observation"),
    "61146-7": ("Goals", "observation"),
    "46264-8": ("Medical equipment", "procedure"),
}
BILLING_SECTIONS = {"48768-6"}  # Payers: insurance, not clinical history (as FHIR Claims are left out)
STATEMENTS = (
    "observation",
    "act",
    "substanceAdministration",
    "procedure",
    "encounter",
    "organizer",
    "supply",
)


def q(tag: str) -> str:
    return NS + tag


def cda_date(value: str | None) -> str:
    """HL7 TS (``20120806143000-0500``) as ISO ``2012-08-06`` (``2012-08`` / ``2012`` when partial)."""
    digits = re.match(r"\d+", value or "")
    if not digits:
        return ""
    d = digits.group()
    return "-".join(p for p in (d[0:4], d[4:6], d[6:8]) if p)


def time_text(el) -> str:
    """effectiveTime as a date or a ``low to high`` span."""
    if el is None:
        return ""
    if el.get("value"):
        return cda_date(el.get("value"))
    low, high = el.find(q("low")), el.find(q("high"))
    start = cda_date(low.get("value")) if low is not None else ""
    end = cda_date(high.get("value")) if high is not None else ""
    if start and end and start != end:
        return f"{start} to {end}"
    return start or (f"until {end}" if end else "")


def start_date(stmt) -> str:
    for el in stmt.findall(q("effectiveTime")):
        if el.get(XSI_TYPE, "").endswith("PIVL_TS"):
            continue
        text = time_text(el)
        if text:
            return text.split(" to ")[0].removeprefix("until ")
    return ""


class Narrative:
    """Resolves ``<reference value="#id"/>`` pointers into the section narrative."""

    def __init__(self, root):
        self.by_id = {}
        for el in root.iter():
            if el.get("ID"):
                self.by_id[el.get("ID")] = " ".join("".join(el.itertext()).split())

    def text(self, ref_el) -> str:
        if ref_el is None:
            return ""
        ref = ref_el.find(q("reference"))
        if ref is not None and ref.get("value", "").startswith("#"):
            return self.by_id.get(ref.get("value")[1:], "")
        return " ".join("".join(ref_el.itertext()).split())


def code_text(el, narrative: Narrative) -> str:
    """A coded element (code, value xsi:type=CD) as words: displayName, originalText, else the code."""
    if el is None:
        return ""
    if el.get("displayName"):
        return " ".join(el.get("displayName").split())
    original = narrative.text(el.find(q("originalText")))
    if original:
        return original
    for translation in el.findall(q("translation")):
        if translation.get("displayName"):
            return translation.get("displayName")
    return el.get("code", "")


def value_text(stmt, narrative: Narrative) -> str:
    parts = []
    for value in stmt.findall(q("value")):
        kind = value.get(XSI_TYPE, "").split(":")[-1]
        if kind in ("PQ", "IVL_PQ") and value.get("value") is not None:
            unit = value.get("unit", "")
            parts.append(value.get("value") + ("" if unit in ("", "1") else f" {unit}"))
        elif kind in ("CD", "CE", "CO", "CV"):
            parts.append(code_text(value, narrative))
        elif kind in ("ST", "ED") or value.text:
            parts.append(" ".join("".join(value.itertext()).split()))
        elif kind == "BL":
            parts.append("yes" if value.get("value") == "true" else "no")
        elif value.get("value"):
            parts.append(value.get("value"))
    flag = code_text(stmt.find(q("interpretationCode")), narrative)
    text = ", ".join(p for p in parts if p)
    return f"{text} ({flag})" if text and flag and flag not in ("N", "Normal") else text


def _statements(entry):
    return [child for child in entry if child.tag in {q(s) for s in STATEMENTS}]


def _related(stmt, tag: str = "observation"):
    return [child for rel in stmt.findall(q("entryRelationship")) for child in rel.findall(q(tag))]


def _material(stmt, narrative) -> str:
    material = stmt.find(f"{q('consumable')}/{q('manufacturedProduct')}/{q('manufacturedMaterial')}")
    if material is None:
        return ""
    return code_text(material.find(q("code")), narrative) or " ".join(
        "".join(material.find(q("name")).itertext()).split() if material.find(q("name")) is not None else []
    )


def _status_observation(stmt, narrative) -> str:
    for obs in _related(stmt):
        code = obs.find(q("code"))
        if code is not None and code.get("code") == "33999-4":  # LOINC "Status"
            return code_text(obs.find(q("value")), narrative)
    return ""


def _status(stmt, narrative) -> str:
    found = _status_observation(stmt, narrative)
    if found:
        return found
    status = stmt.find(q("statusCode"))
    return status.get("code", "") if status is not None else ""


def allergy_lines(entry, narrative) -> list[str]:
    lines = []
    for act in _statements(entry):
        for obs in _related(act) or [act]:
            entity = obs.find(f".//{q('participant')}/{q('participantRole')}/{q('playingEntity')}")
            allergen = code_text(entity.find(q("code")), narrative) if entity is not None else ""
            if not allergen and entity is not None and entity.find(q("name")) is not None:
                allergen = " ".join("".join(entity.find(q("name")).itertext()).split())
            kind = value_text(obs, narrative)
            reactions, severity = [], ""
            for rel in _related(obs):
                text = value_text(rel, narrative)
                code = rel.find(q("code"))
                if code is not None and code.get("code") == "SEV":
                    severity = text
                elif text:
                    sev = next((value_text(s, narrative) for s in _related(rel)), "")
                    reactions.append(f"{text} ({sev})" if sev else text)
            desc = allergen or kind or "(unnamed allergy)"
            if allergen and kind:
                desc += f" ({kind})"
            if reactions:
                desc += f"; reaction: {', '.join(reactions)}"
            if severity:
                desc += f"; severity: {severity}"
            when = start_date(obs) or start_date(act)
            lines.append(f"- {desc}" + (f"; since {when}" if when else ""))
    return lines


def problem_lines(entry, narrative) -> list[str]:
    lines = []
    for act in _statements(entry):
        for obs in _related(act) or [act]:
            name = value_text(obs, narrative) or code_text(obs.find(q("code")), narrative)
            if not name:
                continue
            span = time_text(obs.find(q("effectiveTime"))) or time_text(act.find(q("effectiveTime")))
            # the concern act's status is the problem's; the observation's is always "completed"
            status = _status_observation(obs, narrative) or _status(act, narrative)
            when = (span if " to " in span or span.startswith("until") else f"since {span}") if span else ""
            lines.append(f"- {name}" + (f": {when}" if when else "") + (f" ({status})" if status else ""))
    return lines


def medication_lines(entry, narrative) -> list[str]:
    lines = []
    for sa in _statements(entry):
        name = _material(sa, narrative) or code_text(sa.find(q("code")), narrative)
        if not name:
            continue
        details = []
        dose = sa.find(q("doseQuantity"))
        if dose is not None and dose.get("value"):
            details.append(f"{dose.get('value')} {dose.get('unit', '').strip('{}')}".strip())
        route = code_text(sa.find(q("routeCode")), narrative)
        if route:
            details.append(route)
        for et in sa.findall(q("effectiveTime")):
            period = et.find(q("period"))
            if et.get(XSI_TYPE, "").endswith("PIVL_TS") and period is not None and period.get("value"):
                details.append(f"every {period.get('value')} {period.get('unit', '')}".strip())
        span = next((time_text(et) for et in sa.findall(q("effectiveTime")) if time_text(et)), "")
        text = f"- {name}" + (f": {', '.join(details)}" if details else "")
        text += f"; {span if ' to ' in span else 'started ' + span}" if span else ""
        status = _status(sa, narrative)
        lines.append(text + (f" ({status})" if status else ""))
    return lines


def immunization_lines(entry, narrative) -> list[str]:
    lines = []
    for sa in _statements(entry):
        name = _material(sa, narrative) or code_text(sa.find(q("code")), narrative)
        if name:
            refused = " (not given)" if sa.get("negationInd") == "true" else ""
            lines.append(f"- {start_date(sa) or 'date unknown'}: {name}{refused}")
    return lines


def result_lines(entry, narrative) -> list[str]:
    lines = []
    for stmt in _statements(entry):
        components = [c for comp in stmt.findall(q("component")) for c in _statements(comp)]
        values = []
        for obs in components or [stmt]:
            name, value = code_text(obs.find(q("code")), narrative), value_text(obs, narrative)
            if name or value:
                values.append(f"{name}: {value}" if value else name)
        date = start_date(stmt) or next((start_date(c) for c in components if start_date(c)), "")
        panel = code_text(stmt.find(q("code")), narrative) if components else ""
        head = f"- {date or 'date unknown'}: " + (f"{panel} — " if panel else "")
        if values:
            lines.append(head + "; ".join(values))
    return lines


def event_lines(entry, narrative, planned: bool = False) -> list[str]:
    """Procedures, encounters, plan-of-care items and other dated coded statements."""
    lines = []
    for stmt in _statements(entry):
        name = code_text(stmt.find(q("code")), narrative) or _material(stmt, narrative)
        value = value_text(stmt, narrative)
        if not name and not value:
            continue
        text = f"{name}: {value}" if name and value else name or value
        place = stmt.find(f".//{q('participantRole')}/{q('playingEntity')}/{q('name')}")
        if place is not None and "".join(place.itertext()).strip():
            text += f" at {' '.join(''.join(place.itertext()).split())}"
        diagnoses = [value_text(o, narrative) for act in _related(stmt, "act") for o in _related(act)]
        diagnoses += [value_text(o, narrative) for o in _related(stmt) if value_text(o, narrative)]
        if diagnoses:
            text += f"; diagnosis: {', '.join(d for d in diagnoses if d)}"
        if planned or stmt.get("moodCode") in ("INT", "RQO", "PRP", "ARQ", "PRMS", "APT"):
            text += " (planned)"
        lines.append(f"- {start_date(stmt) or 'date unknown'}: {text}")
    return lines


RENDERERS = {
    "allergy": allergy_lines,
    "problem": problem_lines,
    "medication": medication_lines,
    "immunization": immunization_lines,
    "result": result_lines,
    "procedure": event_lines,
    "encounter": event_lines,
    "plan": lambda entry, narrative: event_lines(entry, narrative, planned=True),
    "observation": event_lines,
}


def narrative_text(section) -> str:
    """The section's ``<text>`` block: paragraphs, list items and table rows as lines.

    Walked with an explicit stack: narrative blocks can nest deeply and recursion would overflow.
    """
    text_el = section.find(q("text"))
    if text_el is None:
        return ""
    lines, stack = [], [text_el]
    while stack:
        el = stack.pop()
        local = el.tag.replace(NS, "") if isinstance(el.tag, str) else ""
        if local == "tr":
            cells = [" ".join("".join(c.itertext()).split()) for c in el if c.tag in (q("td"), q("th"))]
            if any(cells):
                lines.append(" | ".join(cells))
        elif local in ("paragraph", "item", "caption"):
            text = " ".join("".join(el.itertext()).split())
            if text:
                lines.append(("- " if local == "item" else "") + text)
        else:
            stack.extend(reversed(list(el)))
    if not lines:
        text = " ".join("".join(text_el.itertext()).split())
        lines = [text] if text else []
    return "\n".join(dict.fromkeys(lines))


def render_section(section) -> tuple[str, str, list[str]]:
    """(heading, loinc code, lines) for one ``<section>``; lines empty when it holds nothing."""
    code_el = section.find(q("code"))
    code = code_el.get("code", "") if code_el is not None else ""
    title_el = section.find(q("title"))
    title = " ".join("".join(title_el.itertext()).split()) if title_el is not None else ""
    heading, kind = SECTIONS.get(code, (title or "Section", "observation"))
    narrative = Narrative(section)
    lines = []
    renderer = RENDERERS[kind]
    for entry in section.findall(q("entry")):
        lines.extend(renderer(entry, narrative))
    if not lines:
        text = narrative_text(section)
        lines = text.split("\n") if text else []
    return (heading if code in SECTIONS else title or heading), code, list(dict.fromkeys(lines))
