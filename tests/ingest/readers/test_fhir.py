"""FHIR R4 reader on hand-written fixtures: one readable history per patient."""

import json
import shutil
from pathlib import Path

import pytest

from ingest.errors import ReaderError
from ingest.readers import ReadOptions, read_path

from .conftest import FIXTURES

BUNDLE = FIXTURES / "fhir" / "adaeze_okafor_bundle.json"


@pytest.fixture(scope="module")
def okafor():
    [doc] = read_path(BUNDLE, BUNDLE.parent, ReadOptions())
    return doc


def test_bundle_becomes_one_patient_document_with_metadata(okafor):
    assert okafor.doc_id == "0b6a3f52-1c1e-4b8e-9a57-7d1c2f0e9a01"
    assert okafor.title == "Ms. Adaeze Okafor" and okafor.kind == "fhir"
    meta = okafor.metadata
    assert (meta["birth_date"], meta["sex"], meta["first_date"], meta["last_date"]) == (
        "1961-03-09",
        "female",
        "2019-04-02",
        "2021-01-16",
    )
    assert meta["resource_counts"]["Observation"] == 5
    assert meta["excluded_counts"] == {"Claim": 1, "ExplanationOfBenefit": 1}


def test_summary_sections_carry_dates_dosage_and_status(okafor):
    text = okafor.text
    assert "Born: 1961-03-09 · Sex: female · Lives in: Springfield, MA, US" in text
    assert (
        "- Penicillin V (medication, criticality high); reaction: Hives (moderate); since 2019-04-02" in text
    )
    assert "- Type 2 diabetes mellitus: since 2019-04-02 (active)" in text
    assert "- Asthma attack: 2021-01-15 to 2021-01-20 (resolved)" in text
    assert (
        "Metformin 500 MG Oral Tablet: 500 mg by mouth twice daily with meals; first ordered 2019-04-02"
        in text
    )
    assert "Albuterol 0.09 MG/ACTUAT Inhaler: 2 puff, 4 times per day, as needed" in text


def test_timeline_groups_by_encounter_in_date_order(okafor):
    text = okafor.text
    visit = text.index(
        "### 2019-04-02 · General examination of patient (procedure) · ambulatory · RIVERSIDE CLINIC"
    )
    er = text.index("### 2021-01-15 to 2021-01-16 · Emergency room admission (procedure) · emergency")
    assert visit < er
    section = text[visit:er]
    assert "- Blood Pressure: Systolic Blood Pressure 138 mmHg; Diastolic Blood Pressure 84 mmHg" in section
    assert "- Hemoglobin A1c/Hemoglobin.total in Blood: 7.812 % (High)" in section
    # the report carries its results; the glucose observation is not repeated on its own
    assert "- Basic metabolic panel (report) — Glucose: 162.4 mg/dL" in section
    assert section.count("Glucose") == 1
    assert "Care plan: Diabetes self management plan; activities: Diabetic diet, Exercise therapy" in section
    er_section = text[er:]
    assert "Reason: Asthma attack" in er_section and "Discharge: Discharged to home" in er_section
    assert "- 2021-01-16: Peak expiratory flow: 210 L/min" in er_section  # other day than the visit start


def test_dangling_references_render_and_warn(okafor):
    assert "Glucose: 162.4 mg/dL; (unresolved reference)" in okafor.text
    assert (
        "### 2020-06-01 · encounter (unresolved reference)\n- Tobacco smoking status: Never smoker"
        in okafor.text
    )
    assert okafor.metadata["warning_count"] == 2
    assert any("obs-missing-potassium" in w for w in okafor.metadata["warnings"])


def test_billing_resources_stay_out_of_the_text(okafor):
    assert "XYZZY" not in okafor.text and "PLUGH" not in okafor.text and "812.5" not in okafor.text


def test_bulk_ndjson_folder_groups_resources_by_patient(tmp_path: Path):
    bulk = tmp_path / "export"
    shutil.copytree(FIXTURES / "fhir" / "bulk", bulk)
    results = {p.name: read_path(p, tmp_path, ReadOptions()) for p in sorted(bulk.iterdir())}
    assert results["Encounter.ndjson"] == [] and results["Observation.ndjson"] == []
    docs = {d.doc_id: d for d in results["Patient.ndjson"]}
    assert set(docs) == {"pt-1", "pt-2"}
    sven = docs["pt-1"]
    assert sven.title == "Sven Lindqvist"
    visit = "### 2022-05-03 · Follow-up visit · ambulatory\n- Diagnosed: Atrial fibrillation\n"
    assert visit + "- Body Weight: 81.25 kg" in sven.text
    assert "Hemoglobin" not in sven.text  # the other patient's result
    assert sven.metadata["sources"] == [
        "export/Patient.ndjson",
        "export/Encounter.ndjson",
        "export/Observation.ndjson",
    ]


def test_ndjson_without_patient_resources_makes_placeholder_patients(tmp_path: Path):
    shutil.copy(FIXTURES / "fhir" / "bulk" / "Observation.ndjson", tmp_path / "Observation.ndjson")
    docs = read_path(tmp_path / "Observation.ndjson", tmp_path, ReadOptions())
    assert {d.doc_id for d in docs} == {"pt-1", "pt-2"}
    assert all("(the input holds no Patient resource for this id)" in d.text for d in docs)


def test_multi_patient_collection_bundle_and_single_resource(tmp_path: Path):
    a = {"resourceType": "Patient", "id": "a", "name": [{"text": "Ann Ash"}]}
    b = {"resourceType": "Patient", "id": "b", "name": [{"text": "Bo Birch"}]}
    cond = {
        "resourceType": "Condition",
        "id": "c",
        "subject": {"reference": "Patient/b"},
        "code": {"text": "Gout"},
        "onsetDateTime": "2020-01-01",
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (a, b, cond)],
    }
    (tmp_path / "two.json").write_text(json.dumps(bundle), encoding="utf-8")
    docs = {d.doc_id: d for d in read_path(tmp_path / "two.json", tmp_path, ReadOptions())}
    assert set(docs) == {"a", "b"} and "Gout" in docs["b"].text and "Gout" not in docs["a"].text
    (tmp_path / "one.json").write_text(json.dumps(a), encoding="utf-8")
    [only] = read_path(tmp_path / "one.json", tmp_path, ReadOptions())
    assert only.title == "Ann Ash"


def test_json_that_is_not_fhir_is_refused(tmp_path: Path):
    (tmp_path / "x.json").write_text('{"name": "not a resource"}', encoding="utf-8")
    with pytest.raises(ReaderError, match="JSON but not FHIR"):
        read_path(tmp_path / "x.json", tmp_path, ReadOptions())
    (tmp_path / "y.json").write_text(
        '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Organization", "id": "o"}}]}',
        encoding="utf-8",
    )
    with pytest.raises(ReaderError, match="no Patient and no patient-linked resources"):
        read_path(tmp_path / "y.json", tmp_path, ReadOptions())
