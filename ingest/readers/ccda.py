"""HL7 C-CDA (Consolidated CDA R2.1 XML, what US hospitals export): one patient per file (own code;
LlamaIndex has no CDA reader).

Parsed with defusedxml: entity declarations (billion laughs, quadratic blowup) and external entities
are refused with a message before anything expands, and the file size limit bounds the rest. The
document renders as a header (name, id, birth date, sex, place, document title and date) and then
one ``##`` section per CDA section, structured entries as dated lines (see
:mod:`ingest.readers.ccda_sections`). The document id is the patient's id (``patientRole/id``
extension), so several C-CDAs of one patient group together with ``group_by="patient"``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ingest.errors import ReaderError
from ingest.readers.base import ReadOptions, make_doc_id, read_bytes, relative_posix, require_text, tidy_text
from ingest.readers.ccda_sections import BILLING_SECTIONS, cda_date, q, render_section
from ingest.types import ParsedDocument

CDA_ROOT = "{urn:hl7-org:v3}ClinicalDocument"


def is_ccda(data: bytes) -> bool:
    """Cheap sniff on the first 4 KiB: a ClinicalDocument in the HL7 v3 namespace."""
    head = data[:4096]
    return b"ClinicalDocument" in head and b"urn:hl7-org:v3" in head


def parse_xml(data: bytes, path: Path, what: str = "XML"):
    """Parse untrusted XML; entity tricks and malformed files become ReaderErrors."""
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ReaderError(
            f"{what} declares entities ({type(exc).__name__}); refused as a possible entity-expansion bomb",
            path,
        ) from None
    except ET.ParseError as exc:
        raise ReaderError(f"malformed {what}: {exc}", path) from None


def _attr(el, name: str) -> str:
    return el.get(name, "") if el is not None else ""


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _name(patient) -> str:
    name = patient.find(q("name")) if patient is not None else None
    if name is None:
        return ""
    parts = [_text(p) for tag in ("prefix", "given", "family", "suffix") for p in name.findall(q(tag))]
    return " ".join(p for p in parts if p) or _text(name)


def _header(doc) -> tuple[dict, list[str]]:
    role = doc.find(f"{q('recordTarget')}/{q('patientRole')}")
    if role is None:
        raise ReaderError("C-CDA without a recordTarget/patientRole: no patient to file it under", None)
    patient = role.find(q("patient"))
    ids = [i for i in role.findall(q("id")) if i.get("extension") or i.get("root")]
    patient_id = (ids[0].get("extension") or ids[0].get("root")) if ids else ""
    gender = patient.find(q("administrativeGenderCode")) if patient is not None else None
    birth = patient.find(q("birthTime")) if patient is not None else None
    gender_text = _attr(gender, "code") or _attr(gender, "displayName")
    addr = role.find(q("addr"))
    meta = {
        "patient_id": patient_id,
        "name": _name(patient),
        "birth_date": cda_date(_attr(birth, "value")),
        "sex": {"F": "female", "M": "male", "UN": "undifferentiated"}.get(gender_text, gender_text),
        "document_title": _text(doc.find(q("title"))),
        "document_date": cda_date(_attr(doc.find(q("effectiveTime")), "value")),
    }
    place = ", ".join(
        _text(addr.find(q(t))) for t in ("city", "state") if addr is not None and _text(addr.find(q(t)))
    )
    facts = [f"Patient id: {patient_id}" if patient_id else "Patient id: (none recorded)"]
    facts += [f"{label}: {meta[k]}" for label, k in (("Born", "birth_date"), ("Sex", "sex")) if meta[k]]
    if place:
        facts.append(f"Lives in: {place}")
    lines = [f"# Patient record: {meta['name'] or '(no name recorded)'}", " · ".join(facts)]
    custodian = _text(doc.find(f".//{q('custodian')}//{q('name')}"))
    doc_line = " · ".join(x for x in (meta["document_title"], meta["document_date"], custodian) if x)
    if doc_line:
        lines.append(f"Source document: {doc_line}")
    return meta, lines


def read_ccda(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """One document per C-CDA file: the patient's header and every clinical section."""
    data = read_bytes(path, options)
    doc = parse_xml(data, path, "C-CDA XML")
    if doc.tag != CDA_ROOT:
        raise ReaderError(f"XML but not a C-CDA document: root element is <{doc.tag.split('}')[-1]}>", path)
    try:
        meta, header = _header(doc)
    except ReaderError as exc:
        raise ReaderError(exc.reason, path) from None
    blocks, sections, dates = ["\n".join(header)], [], []
    for section in doc.iter(q("section")):
        heading, code, lines = render_section(section)
        if code in BILLING_SECTIONS or not lines:
            continue
        sections.append(heading)
        blocks.append(f"## {heading}\n" + "\n".join(lines))
        dates += [d for line in lines for d in _iso_dates(line)]
    text = require_text(tidy_text("\n\n".join(blocks)), path, "the C-CDA")
    rel = relative_posix(path, root)
    dates = sorted(d for d in dates if d != meta["birth_date"])
    metadata = {
        "kind": "ccda",
        "path": rel,
        **meta,
        "first_date": dates[0] if dates else "",
        "last_date": dates[-1] if dates else "",
        "sections": sections,
    }
    if not meta["patient_id"]:
        metadata.pop("patient_id")
    return [
        ParsedDocument(
            doc_id=make_doc_id(meta["patient_id"] or rel),
            title=meta["name"] or path.name,
            text=text,
            source=rel,
            kind="ccda",
            metadata=metadata,
        )
    ]


def _iso_dates(line: str) -> list[str]:
    return re.findall(r"\b(?:1[89]|20)\d\d-[01]\d-[0-3]\d\b", line)
