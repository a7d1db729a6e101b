"""C-CDA reader on a hand-written HL7 CDA R2 document."""

import pytest

from ingest.readers import ReadOptions, read_path

from .conftest import FIXTURES

CCD = FIXTURES / "ccda" / "ramirez_ccd.xml"


@pytest.fixture(scope="module")
def ramirez():
    [doc] = read_path(CCD, CCD.parent, ReadOptions())
    return doc


def test_header_id_title_and_metadata(ramirez):
    assert (
        ramirez.doc_id == "MRN-448812" and ramirez.title == "Lucia Maria Ramirez" and ramirez.kind == "ccda"
    )
    meta = ramirez.metadata
    assert (meta["patient_id"], meta["birth_date"], meta["sex"]) == ("MRN-448812", "1957-04-12", "female")
    assert (meta["first_date"], meta["last_date"]) == ("2012-09-05", "2023-06-08")
    assert ramirez.text.startswith(
        "# Patient record: Lucia Maria Ramirez\nPatient id: MRN-448812 · Born: 1957-04-12 · Sex: female"
    )


@pytest.mark.parametrize(
    "section, line",
    [
        ("Allergies", "- Sulfamethoxazole (Drug allergy); reaction: Skin rash (Moderate); since 2015-03-01"),
        ("Problems", "- Essential hypertension: since 2012-09-05 (active)"),
        ("Problems", "- Community acquired pneumonia: 2021-02-04 to 2021-02-22 (completed)"),
        (
            "Medications",
            "- Lisinopril 10 MG Oral Tablet: 1 tablet, Oral, every 24 h; started 2012-09-05 (active)",
        ),
        ("Immunizations", "- 2022-10-18: Influenza, injectable, quadrivalent"),
        (
            "Results",
            "- 2023-06-01: Basic metabolic panel — Potassium: 5.9 mmol/L (High); Creatinine: 1.4 mg/dL",
        ),
        ("Vital signs", "Systolic blood pressure: 148 mm[Hg]; Diastolic blood pressure: 92 mm[Hg]"),
        ("Procedures", "- 2020-09-14: Colonoscopy"),
        (
            "Encounters",
            "- 2023-06-01: Office outpatient visit 15 minutes at Community Health and Hospitals, "
            "Clinic B; diagnosis: Essential hypertension",
        ),
        ("Plan of care", "- 2023-06-08: Potassium serum test (planned)"),
        ("HISTORY OF PRESENT ILLNESS", "Patient reports two weeks of fatigue and leg cramps"),
    ],
)
def test_sections_render_as_dated_lines(ramirez, section, line):
    block = ramirez.text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    assert line in block


def test_payer_section_is_left_out(ramirez):
    assert "Frobozz" not in ramirez.text
