"""Shared paths and helpers for the reader tests."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "readers"
# Real Synthea FHIR R4 bundles, outside the repository: tests that use them skip when absent.
FHIR_SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "fhir_r4"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def make_pdf(
    path: Path, pages: list[str], title: str | None = None, user_password: str | None = None
) -> Path:
    """A real PDF with one text page per entry (an empty string makes a page with no text layer)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        for line in text.split("\n"):
            if line:
                pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    if user_password:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    path.write_bytes(bytes(pdf.output()))
    return path
