"""FHIR R4 records: Bundle JSON and bulk-export NDJSON, one document per patient (own code; LlamaIndex
has no FHIR reader).

Inputs:
- a ``.json`` Bundle (transaction, collection, searchset, batch, document, nested Bundles included) or
  a single resource; every Patient in it becomes one document, its resources found through
  ``subject``/``patient`` references (``urn:uuid:``, ``Type/id`` or absolute URLs);
- bulk-export ``.ndjson`` (one resource per line). A bulk export spreads one patient over several
  files (Patient.ndjson, Observation.ndjson, ...), so the reader looks at every ``.ndjson`` file in
  the folder: each file that holds Patient resources yields those patients' whole histories (their
  ``metadata["sources"]`` lists every contributing file), and the other files yield no documents of
  their own (they are still parsed, so a broken one gets its own error). A folder with no Patient
  resource at all renders its patients from the first file. Re-reading must therefore happen per
  folder: a pipeline that skips unchanged files should treat an NDJSON folder as one unit.

Billing and administrative resources (Claim, ExplanationOfBenefit, Coverage, ...) are counted in
``metadata["excluded_counts"]`` but never rendered. The text itself comes from
:mod:`ingest.readers.fhir_render`. The document id is the Patient resource id.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from pathlib import Path

from ingest.errors import ReaderError
from ingest.readers.base import ReadOptions, decode_text, make_doc_id, read_bytes, relative_posix
from ingest.readers.fhir_refs import References, reference_target
from ingest.readers.fhir_render import PatientRenderer, resource_counts
from ingest.readers.fhir_values import human_name, resource_date
from ingest.types import ParsedDocument

log = logging.getLogger(__name__)

EXCLUDED = {
    "Claim",
    "ClaimResponse",
    "ExplanationOfBenefit",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "PaymentNotice",
    "PaymentReconciliation",
    "Account",
    "Invoice",
    "ChargeItem",
    "Provenance",
    "AuditEvent",
}
PATIENT_LINKS = ("subject", "patient", "beneficiary")
MAX_BUNDLE_DEPTH = 8  # Bundles nest (a searchset holding documents); deeper is hostile, not clinical
MAX_WARNINGS = 20  # metadata keeps the first few messages and the total count


def is_fhir(obj) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("resourceType"), str)


def parse_json(data: bytes, path: Path, options: ReadOptions):
    text = decode_text(data, path, options, what="JSON file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReaderError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path) from None
    except RecursionError:
        raise ReaderError("JSON nested too deeply to parse", path) from None


def bundle_entries(obj: dict, path: Path, depth: int = 0) -> list[tuple[str | None, dict]]:
    """(fullUrl, resource) for every resource in a Bundle, nested Bundles flattened."""
    if obj.get("resourceType") != "Bundle":
        return [(None, obj)]
    if depth > MAX_BUNDLE_DEPTH:
        raise ReaderError(f"FHIR Bundles nested more than {MAX_BUNDLE_DEPTH} deep", path)
    out = []
    for entry in obj.get("entry") or []:
        if isinstance(entry, dict) and is_fhir(entry.get("resource")):
            resource = entry["resource"]
            if resource["resourceType"] == "Bundle":
                out.extend(bundle_entries(resource, path, depth + 1))
            else:
                out.append((entry.get("fullUrl"), resource))
    return out


def _patient_key(patient: dict, full_url: str | None) -> str:
    if isinstance(patient.get("id"), str) and patient["id"]:
        return patient["id"]
    if full_url:
        return full_url.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    for ident in patient.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            return str(ident["value"])
    return ""


def group_by_patient(entries: list[tuple[str | None, dict]], refs: References):
    """Assign each clinical resource to its patient.

    Returns ({patient_id: (Patient or None, [resources])}, {patient_id: [warnings]}, excluded Counter).
    A dangling ``Patient/<id>`` link makes a placeholder patient (partial bulk exports); any other
    unlinkable resource goes to the only patient when there is exactly one, else it is dropped.
    """
    groups: dict[str, tuple[dict | None, list[dict]]] = {}
    keys: dict[int, str] = {}
    for full_url, res in entries:
        if res["resourceType"] == "Patient":
            key = _patient_key(res, full_url)
            groups.setdefault(key, (res, []))
            keys[id(res)] = key
    warnings: dict[str, list[str]] = {}
    excluded: Counter = Counter()
    orphans: list[tuple[dict, str]] = []
    for _, res in entries:
        rtype = res["resourceType"]
        if rtype in EXCLUDED:
            excluded[rtype] += 1
            continue
        link = next((res[f] for f in PATIENT_LINKS if isinstance(res.get(f), dict)), None)
        if rtype == "Patient" or link is None:
            continue
        target, dangling = refs.resolve(link)
        if target is not None and id(target) in keys:
            groups[keys[id(target)]][1].append(res)
        elif dangling and reference_target(link).startswith("Patient/"):
            key = reference_target(link).split("/")[1]
            groups.setdefault(key, (None, []))[1].append(res)
        else:
            orphans.append(
                (res, f"{rtype}/{res.get('id')}: patient {reference_target(link) or '(none)'} not found")
            )
    for res, message in orphans:
        if len(groups) == 1:
            key = next(iter(groups))
            groups[key][1].append(res)
            warnings.setdefault(key, []).append(message)
        else:
            log.warning("FHIR resource dropped: %s", message)
    return groups, warnings, excluded


def render_patients(
    entries, refs: References, sources: list[str], path: Path, keep=None
) -> list[ParsedDocument]:
    """One ParsedDocument per patient in ``entries`` (only ids in ``keep`` when given)."""
    groups, link_warnings, excluded = group_by_patient(entries, refs)
    if not groups:
        kinds = Counter(res["resourceType"] for _, res in entries)
        summary = ", ".join(f"{n} {t}" for t, n in kinds.most_common(4))
        raise ReaderError(f"FHIR input with no Patient and no patient-linked resources ({summary})", path)
    docs = []
    for key, (patient, resources) in groups.items():
        if keep is not None and key not in keep:
            continue
        resources.sort(key=lambda r: resource_date(r) or "9999")
        renderer = PatientRenderer(patient, key, resources, refs)
        text = renderer.render()
        warnings = link_warnings.get(key, []) + renderer.warnings
        docs.append(_document(key, patient, resources, text, warnings, excluded, sources))
    return docs


def _document(key, patient, resources, text, warnings, excluded, sources) -> ParsedDocument:
    patient = patient or {}
    dates = sorted(d for d in (resource_date(r) for r in resources) if d)
    name = human_name(patient.get("name"))
    metadata = {
        "kind": "fhir",
        "path": sources[0],
        "sources": sources,
        "patient_id": key,
        "name": name,
        "birth_date": patient.get("birthDate", ""),
        "sex": patient.get("gender", ""),
        "first_date": dates[0] if dates else "",
        "last_date": dates[-1] if dates else "",
        "resource_counts": resource_counts(resources),
        "excluded_counts": dict(sorted(excluded.items())),
    }
    if warnings:
        metadata["warnings"] = list(dict.fromkeys(warnings))[:MAX_WARNINGS]
        metadata["warning_count"] = len(warnings)
        log.warning("FHIR patient %s: %d unresolved references", key, len(warnings))
    return ParsedDocument(
        doc_id=make_doc_id(key),
        title=name or f"Patient {key}",
        text=text,
        source=sources[0],
        kind="fhir",
        metadata=metadata,
    )


def read_fhir_json(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """A FHIR Bundle or single resource in a .json file: one document per patient."""
    obj = parse_json(read_bytes(path, options), path, options)
    if not is_fhir(obj):
        what = type(obj).__name__ if not isinstance(obj, dict) else "an object without resourceType"
        raise ReaderError(f"JSON but not FHIR: top level is {what}; FHIR needs a Bundle or a resource", path)
    entries = bundle_entries(obj, path)
    refs = References()
    for full_url, res in entries:
        refs.add(res, full_url)
    return render_patients(entries, refs, [relative_posix(path, root)], path)


def parse_ndjson(data: bytes, path: Path, options: ReadOptions) -> list[tuple[None, dict]]:
    """Resources of an NDJSON file; bad lines are skipped (counted), an all-bad file is an error."""
    text = decode_text(data, path, options, what="NDJSON file")
    out, bad, first_bad = [], 0, 0
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            obj = None
        if is_fhir(obj):
            out.append((None, obj))
        else:
            bad += 1
            first_bad = first_bad or n
    if not out:
        raise ReaderError(f"NDJSON with no FHIR resources (first bad line: {first_bad})", path)
    if bad:
        log.warning(
            "%s: %d NDJSON lines are not FHIR resources (first at line %d)", path.name, bad, first_bad
        )
    return out


_folder_cache: dict[tuple, dict[Path, list]] = {}


def _ndjson_folder(folder: Path, options: ReadOptions) -> dict[Path, list]:
    """Every readable .ndjson file of a folder, parsed once per folder state (size, mtime)."""
    files = sorted(p for p in folder.glob("*.ndjson") if p.is_file())
    signature = (folder, options, tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files))
    if signature not in _folder_cache:
        parsed = {}
        for p in files:
            try:
                parsed[p] = parse_ndjson(read_bytes(p, options), p, options)
            except ReaderError:
                continue  # that file reports its own error when it is read
        _folder_cache.clear()  # one folder at a time: a big export must not stay in memory
        _folder_cache[signature] = parsed
    return _folder_cache[signature]


def read_fhir_ndjson(path: Path, root: Path, options: ReadOptions) -> list[ParsedDocument]:
    """A bulk-export NDJSON file, read together with its sibling .ndjson files (see module doc)."""
    own = parse_ndjson(read_bytes(path, options), path, options)
    try:
        folder = _ndjson_folder(path.parent, options)
    except OSError:
        folder = {}
    folder = {**folder, path: own}
    with_patients = [
        p for p, entries in folder.items() if any(r["resourceType"] == "Patient" for _, r in entries)
    ]
    if with_patients and path not in with_patients:
        return []
    if not with_patients and path != min(folder, key=os.fspath):
        return []
    entries = [e for p in sorted(folder, key=os.fspath) for e in folder[p]]
    refs = References()
    for full_url, res in entries:
        refs.add(res, full_url)
    keep = None
    if with_patients:
        keep = {_patient_key(r, None) for _, r in own if r["resourceType"] == "Patient"}
    sources = [relative_posix(path, root)] + [
        relative_posix(p, root) for p in sorted(folder, key=os.fspath) if p != path
    ]
    return render_patients(entries, refs, sources, path, keep=keep)
