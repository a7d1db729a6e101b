"""Every clinical fact in the real Synthea bundles is findable in its patient's rendered history.

A fact counts as found when one line holds its display text (and, for observations, its value to the
renderer's four significant digits) and its date is on that line or in the line's ``###`` heading.
"""

import json

import pytest

from ingest.readers import ReadOptions, read_path
from ingest.readers.fhir_values import concept_text, fmt_date, fmt_number, resource_date

from .conftest import FHIR_SAMPLES

pytestmark = pytest.mark.skipif(not FHIR_SAMPLES.is_dir(), reason="../shared/data/fhir_r4 is absent")


@pytest.fixture(scope="module")
def rendered():
    out = []
    for path in sorted(FHIR_SAMPLES.glob("*.json")):
        [doc] = read_path(path, FHIR_SAMPLES, ReadOptions())
        bundle = json.loads(path.read_text(encoding="utf-8"))
        out.append((bundle, doc))
    return out


def _facts(bundle):
    """(kind, display, value or None, date or None) for every fact the issue lists."""
    for entry in bundle["entry"]:
        r = entry["resource"]
        kind = r["resourceType"]
        if kind == "Condition":
            yield kind, concept_text(r["code"]), None, fmt_date(r.get("onsetDateTime"))
        elif kind == "MedicationRequest":
            yield kind, concept_text(r["medicationCodeableConcept"]), None, resource_date(r)
        elif kind == "Immunization":
            yield kind, concept_text(r["vaccineCode"]), None, resource_date(r)
        elif kind == "AllergyIntolerance":
            yield kind, concept_text(r["code"]), None, None
        elif kind == "Procedure":
            yield kind, concept_text(r["code"]), None, resource_date(r)
        elif kind == "Observation":
            date = resource_date(r)
            for part in [r, *r.get("component", [])]:
                if "valueQuantity" in part:
                    yield kind, concept_text(part["code"]), part["valueQuantity"]["value"], date
                elif "valueCodeableConcept" in part:
                    yield kind, concept_text(part["code"]), concept_text(part["valueCodeableConcept"]), date


def _lines_with_headings(text):
    heading = ""
    for line in text.split("\n"):
        if line.startswith("### "):
            heading = line
        yield line, heading


def _value_text(value) -> str:
    if isinstance(value, str):
        return value
    shown = fmt_number(value)
    assert shown and abs(float(shown) - value) <= max(abs(value) * 1e-3, 1e-9), (value, shown)
    return shown


def _found(lines, display, value, date) -> bool:
    needle = _value_text(value) if value is not None else None
    for line, heading in lines:
        value_ok = needle is None or needle in line
        if display in line and value_ok and (date is None or date in line or date in heading):
            return True
    return False


def test_every_clinical_fact_is_in_the_rendered_history(rendered):
    total, missing = 0, []
    for bundle, doc in rendered:
        lines = list(_lines_with_headings(doc.text))
        for kind, display, value, date in _facts(bundle):
            total += 1
            if not _found(lines, display, value, date):
                missing.append((doc.doc_id, kind, display, value, date))
    coverage = 100.0 * (total - len(missing)) / total
    print(
        f"FHIR fact coverage: {total - len(missing)}/{total} = {coverage:.2f}% over {len(rendered)} patients"
    )
    assert total > 2000  # the ten bundles hold ~2,600 such facts; fewer means the walk above broke
    assert not missing, missing[:10]


def test_rendered_histories_are_compact_and_billing_free(rendered):
    for bundle, doc in rendered:
        raw = len(json.dumps(bundle))
        assert len(doc.text) < raw / 10  # the whole history fits a prompt; the JSON would not
        assert doc.metadata["excluded_counts"].get("Claim", 0) > 0
        assert "Claim" not in doc.text and "ExplanationOfBenefit" not in doc.text
        assert doc.metadata["patient_id"] and doc.metadata["birth_date"] and doc.metadata["first_date"]
        assert "warnings" not in doc.metadata  # Synthea bundles resolve completely
