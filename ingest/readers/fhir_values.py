"""FHIR R4 datatypes as short readable strings: codes, dates, quantities, names, dosages.

Every function takes plain JSON (dicts from the parsed resource) and tolerates missing or malformed
fields by returning "" or None: a renderer that crashes on one odd field would lose a whole history.
"""

from __future__ import annotations

import math

# Encounter.class codes (v3 ActCode) in words; Synthea and most EHR exports use these.
ENCOUNTER_CLASSES = {
    "AMB": "ambulatory",
    "EMER": "emergency",
    "IMP": "inpatient",
    "ACUTE": "inpatient acute",
    "NONAC": "inpatient non-acute",
    "OBSENC": "observation",
    "PRENC": "pre-admission",
    "SS": "short stay",
    "VR": "virtual",
    "HH": "home health",
    "FLD": "field",
}


def concept_text(concept) -> str:
    """A CodeableConcept (or Coding) as words: its text, else a coding's display, else system|code."""
    if not isinstance(concept, dict):
        return ""
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return " ".join(concept["text"].split())
    codings = concept.get("coding") if isinstance(concept.get("coding"), list) else [concept]
    for coding in codings:
        if isinstance(coding, dict) and isinstance(coding.get("display"), str) and coding["display"].strip():
            return " ".join(coding["display"].split())
    for coding in codings:
        if isinstance(coding, dict) and coding.get("code"):
            system = str(coding.get("system", "")).rsplit("/", 1)[-1]
            return f"{system}|{coding['code']}" if system else str(coding["code"])
    return ""


def status_code(concept) -> str:
    """A status CodeableConcept (clinicalStatus, verificationStatus) as its bare code: "active"."""
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            if isinstance(coding, dict) and coding.get("code"):
                return str(coding["code"])
    return concept_text(concept)


def concepts_text(concepts) -> str:
    """A list of CodeableConcepts, comma-joined."""
    if not isinstance(concepts, list):
        return concept_text(concepts)
    return ", ".join(t for t in (concept_text(c) for c in concepts) if t)


def fmt_date(value) -> str:
    """FHIR date/dateTime/instant as ISO YYYY-MM-DD (or YYYY-MM / YYYY when that is all there is).

    The time of day is dropped on purpose: a history reads by day, and it saves tokens.
    """
    if not isinstance(value, str):
        return ""
    value = value.strip()
    return value[:10] if len(value) >= 10 else value


def fmt_number(value) -> str:
    """About four significant digits, no trailing zeros: 171.8502438 -> 171.9, 0.012345 -> 0.01235.

    Synthea (and device feeds) emit 15-digit floats; nobody reads past the fourth digit and every
    extra digit costs prompt tokens. Integers stay exact.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value) if value is not None else ""
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    if not math.isfinite(value):
        return str(value)
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    decimals = max(0, 3 - magnitude)
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def unit_text(quantity: dict) -> str:
    """A quantity's unit for reading: UCUM annotations lose their braces, mm[Hg] becomes mmHg."""
    unit = quantity.get("unit") or quantity.get("code") or ""
    unit = str(unit).replace("[Hg]", "Hg")
    if unit.startswith("{") and unit.endswith("}"):
        unit = unit[1:-1]
    return unit


def quantity_text(quantity) -> str:
    if not isinstance(quantity, dict) or "value" not in quantity:
        return ""
    comparator = quantity.get("comparator", "")
    unit = unit_text(quantity)
    return f"{comparator}{fmt_number(quantity['value'])}" + (f" {unit}" if unit else "")


def value_text(element: dict) -> str:
    """The value[x] of an Observation or one of its components, whatever its type."""
    if not isinstance(element, dict):
        return ""
    if "valueQuantity" in element:
        return quantity_text(element["valueQuantity"])
    if "valueCodeableConcept" in element:
        return concept_text(element["valueCodeableConcept"])
    if isinstance(element.get("valueString"), str):
        return " ".join(element["valueString"].split())
    if isinstance(element.get("valueBoolean"), bool):
        return "yes" if element["valueBoolean"] else "no"
    if "valueInteger" in element:
        return fmt_number(element["valueInteger"])
    if isinstance(element.get("valueRange"), dict):
        low, high = element["valueRange"].get("low"), element["valueRange"].get("high")
        return f"{quantity_text(low) or '?'} to {quantity_text(high) or '?'}"
    if isinstance(element.get("valueRatio"), dict):
        ratio = element["valueRatio"]
        return f"{quantity_text(ratio.get('numerator'))}/{quantity_text(ratio.get('denominator'))}"
    if "valueDateTime" in element:
        return fmt_date(element["valueDateTime"])
    if isinstance(element.get("valuePeriod"), dict):
        return period_text(element["valuePeriod"])
    if "valueTime" in element:
        return str(element["valueTime"])
    if "valueSampledData" in element:
        return "(sampled data series)"
    return ""


def has_value(element: dict) -> bool:
    return bool(value_text(element))


def interpretation_text(observation: dict) -> str:
    """Flags like High/Low from Observation.interpretation, in parentheses."""
    flags = concepts_text(observation.get("interpretation"))
    return f" ({flags})" if flags else ""


def period_text(period) -> str:
    if not isinstance(period, dict):
        return ""
    start, end = fmt_date(period.get("start")), fmt_date(period.get("end"))
    if start and end and start != end:
        return f"{start} to {end}"
    return start or (f"until {end}" if end else "")


def human_name(names) -> str:
    """The official (else first) HumanName as "Prefix Given Family"."""
    if not isinstance(names, list) or not names:
        return ""
    chosen = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), names[0])
    if not isinstance(chosen, dict):
        return ""
    if isinstance(chosen.get("text"), str) and chosen["text"].strip():
        return " ".join(chosen["text"].split())
    parts = [*chosen.get("prefix", []), *chosen.get("given", []), chosen.get("family", "")]
    return " ".join(str(p) for p in parts if p)


def address_text(addresses) -> str:
    """City and state of the first address: enough to place a patient, without the street."""
    if not isinstance(addresses, list) or not addresses or not isinstance(addresses[0], dict):
        return ""
    first = addresses[0]
    return ", ".join(str(first[k]) for k in ("city", "state", "country") if first.get(k))


def dosage_text(dosages) -> str:
    """MedicationRequest.dosageInstruction: its text, else dose + frequency (+ as needed)."""
    if not isinstance(dosages, list) or not dosages or not isinstance(dosages[0], dict):
        return ""
    dosage = dosages[0]
    if isinstance(dosage.get("text"), str) and dosage["text"].strip():
        return " ".join(dosage["text"].split())
    parts = []
    dose_rates = dosage.get("doseAndRate") or [{}]
    dose = dose_rates[0].get("doseQuantity") if isinstance(dose_rates[0], dict) else None
    if isinstance(dose, dict) and "value" in dose:
        parts.append(quantity_text(dose) if dose.get("unit") else f"{fmt_number(dose['value'])} dose")
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    if repeat.get("frequency") and repeat.get("periodUnit"):
        period = repeat.get("period", 1)
        unit = {"h": "hour", "d": "day", "wk": "week", "mo": "month", "a": "year"}.get(
            repeat["periodUnit"], ""
        )
        every = unit if period == 1 else f"{fmt_number(period)} {unit}s"
        times = {1: "once", 2: "twice"}.get(repeat["frequency"], f"{fmt_number(repeat['frequency'])} times")
        parts.append(f"{times} per {every}")
    if dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"):
        parts.append("as needed")
    route = concept_text(dosage.get("route"))
    if route:
        parts.append(route)
    return ", ".join(parts)


def resource_date(resource: dict) -> str:
    """The clinically relevant date of a resource (when it happened), as YYYY-MM-DD, or ""."""
    for key in (
        "effectiveDateTime",
        "occurrenceDateTime",
        "performedDateTime",
        "onsetDateTime",
        "authoredOn",
        "recordedDate",
        "issued",
        "date",
        "started",
        "created",
    ):
        if isinstance(resource.get(key), str):
            return fmt_date(resource[key])
    for key in ("effectivePeriod", "performedPeriod", "period", "onsetPeriod", "billablePeriod"):
        if isinstance(resource.get(key), dict) and resource[key].get("start"):
            return fmt_date(resource[key]["start"])
    context = resource.get("context")
    if isinstance(context, dict) and isinstance(context.get("period"), dict):
        return fmt_date(context["period"].get("start"))
    return ""
