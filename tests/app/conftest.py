"""Shared fixtures for the service tests: a tiny checkpoint, the real embedder, and a small collection
ingested through the real pipeline from Markdown files in the sample corpus's format."""

from pathlib import Path

import pytest

PATIENTS = {
    "P0001": ("Ana Diaz", "2015-01-10", "2022-06-01", """
## 2015-01-10 Primary care visit
Pt c/o polyuria and thirst. Fasting glucose 182 mg/dL. Dx: type 2 diabetes mellitus (E11.9).
Started metformin 500 mg BID. Denies chest pain.

## 2021-03-04 Diabetes review
HbA1c 7.9% today. Metformin increased to 1000 mg BID. Diet counselling given. f/u 3 months.

## 2022-06-01 Eye screening
Retinal photographs show no diabetic retinopathy. Continue annual screening.
"""),
    "P0002": ("Ben Okafor", "2018-11-20", "2023-02-14", """
## 2018-11-20 Emergency visit
Palpitations for two days. ECG: atrial fibrillation with rapid ventricular rate. No SOB.

## 2019-02-01 Cardiology clinic
Anticoagulation discussed. Warfarin started 2019-02-01, target INR 2 to 3.

## 2023-02-14 Anticoagulation clinic
INR 2.4, stable on warfarin 5 mg daily. No bleeding events reported.
"""),
    "P0003": ("Chloe Martin", "2012-05-05", "2020-09-30", """
## 2012-05-05 Paediatric clinic
Wheeze at night and with exercise. Dx: asthma (J45.9). Salbutamol inhaler PRN; budesonide BID.
Allergy: penicillin (urticaria).

## 2020-09-30 Fracture clinic
Fractured left wrist after a fall from a bicycle. Cast applied for six weeks.
"""),
}

REFERENCE = {
    "ref-metformin": ("Metformin monograph", "monograph", """
Metformin is a biguanide that lowers hepatic glucose production. Contraindicated when eGFR is below
30 mL/min/1.73m2. Common adverse effects are nausea and diarrhoea.
"""),
    "ref-warfarin": ("Warfarin monograph", "monograph", """
Warfarin is a vitamin K antagonist. Monitor the INR; the usual target range is 2.0 to 3.0.
Antibiotics and amiodarone raise the INR and the bleeding risk.
"""),
}


def write_corpus(root: Path) -> Path:
    for doc_id, (name, first, last, body) in PATIENTS.items():
        front = (f"---\ndoc_id: {doc_id}\ntitle: {name}\nkind: patient_history\npatient_id: {doc_id}\n"
                 f"name: {name}\nfirst_date: '{first}'\nlast_date: '{last}'\n---\n")
        path = root / "patients" / f"{doc_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(front + f"# {name} ({doc_id})\n" + body)
    for doc_id, (title, kind, body) in REFERENCE.items():
        path = root / "reference" / f"{doc_id}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\ndoc_id: {doc_id}\ntitle: {title}\nkind: {kind}\n---\n# {title}\n{body}")
    return root


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    from model.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-jamba")


@pytest.fixture(scope="session")
def embedder():
    from ingest.embed import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, embedder, checkpoint):
    """A collection "clinic" built by the ingestion pipeline; read-only for the tests."""
    from ingest.pipeline import add

    root = tmp_path_factory.mktemp("data")
    corpus = write_corpus(root / "corpus")
    report = add(root / "collections", "clinic", [corpus], embedder=embedder, tokenizer=str(checkpoint))
    assert report.ok and len(report.added) == len(PATIENTS) + len(REFERENCE)
    return root / "collections"


@pytest.fixture(scope="session")
def engine_backend(checkpoint):
    from model.backend import EngineBackend

    return EngineBackend.load(str(checkpoint))


@pytest.fixture
def service(data_dir, engine_backend, embedder):
    from app.service import QAService

    # Lexical evidence only: semantic scoring costs seconds on a busy CI machine (one test keeps it on).
    svc = QAService(data_dir, engine_backend, embedder, k=5, semantic_evidence_docs=0)
    yield svc
    svc.close()
