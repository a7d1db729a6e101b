"""A small clinical collection built in a temporary data directory with the real store and embedder.

Four patient histories and three reference documents, each with a few paragraphs and distinctive
facts (codes, drug names, values, dates), so ranking, filters and evidence can be asserted exactly.
"""

from __future__ import annotations

from pathlib import Path

from ingest.chunking import ChunkConfig, chunk_spans
from ingest.store import CollectionSettings, CollectionStore, DocumentWrite, content_hash, text_hash
from ingest.types import Document

PATIENTS = {
    "P0001": ("Ana Diaz", "2015-01-10", "2022-06-01", [
        "## 2015-01-10 Primary care visit",
        "Ana Diaz, born 1961, presents with polyuria and thirst. Fasting glucose 182 mg/dL.",
        "Diagnosis: type 2 diabetes mellitus (E11.9). Started metformin 500 mg twice daily.",
        "## 2021-03-04 Diabetes review",
        "HbA1c was 7.9% at this visit. Metformin increased to 1000 mg twice daily. Diet counselling given.",
        "## 2022-06-01 Eye screening",
        "Retinal photographs show no diabetic retinopathy. Continue annual screening.",
    ]),
    "P0002": ("Ben Okafor", "2018-11-20", "2023-02-14", [
        "## 2018-11-20 Emergency visit",
        "Ben Okafor reports palpitations for two days. ECG shows atrial fibrillation with rapid rate.",
        "## 2019-02-01 Cardiology clinic",
        "Anticoagulation discussed. Warfarin started on 2019-02-01 with a target INR of 2 to 3.",
        "## 2023-02-14 Anticoagulation clinic",
        "INR 2.4, stable on warfarin 5 mg daily. No bleeding events reported.",
    ]),
    "P0003": ("Chloe Martin", "2012-05-05", "2020-09-30", [
        "## 2012-05-05 Paediatric clinic",
        "Chloe Martin has wheeze at night and with exercise. Diagnosis: asthma (J45.9).",
        "Salbutamol inhaler as needed; inhaled budesonide twice daily.",
        "## 2020-09-30 Fracture clinic",
        "Fractured left wrist after a fall from a bicycle. Cast applied for six weeks.",
    ]),
    "P0004": ("Dev Patel", "2016-07-07", "2024-01-15", [
        "## 2016-07-07 Hypertension follow-up",
        "Dev Patel has essential hypertension (I10). Blood pressure 152/96. Started lisinopril 10 mg daily.",
        "## 2024-01-15 Annual review",
        "Blood pressure 128/82 on lisinopril. Potassium 4.6 mmol/L. No change to treatment.",
    ]),
}

REFERENCE = {
    "ref-metformin": ("Metformin monograph", "monograph", [
        "Metformin is a biguanide that lowers hepatic glucose production.",
        "Contraindicated when eGFR is below 30 mL/min. Common adverse effects are nausea and diarrhoea.",
    ]),
    "ref-warfarin": ("Warfarin monograph", "monograph", [
        "Warfarin is a vitamin K antagonist. Monitor the INR; the usual target range is 2.0 to 3.0.",
        "Many interactions: antibiotics and amiodarone raise the INR and the bleeding risk.",
    ]),
    "guideline-asthma": ("Asthma guideline", "guideline", [
        "Stepwise asthma treatment starts with an as-needed reliever inhaler.",
        "Add a low-dose inhaled corticosteroid when symptoms occur more than twice a month.",
    ]),
}


def documents(collection: str = "clinic") -> list[Document]:
    docs = []
    for doc_id, (name, first, last, lines) in PATIENTS.items():
        text = f"# {name} ({doc_id})\n\n" + "\n\n".join(lines)
        meta = {"kind": "patient_history", "patient_id": doc_id, "first_date": first, "last_date": last,
                "source": f"patients/{doc_id}.md"}
        docs.append(_doc(collection, doc_id, name, text, meta))
    for doc_id, (title, kind, lines) in REFERENCE.items():
        text = f"# {title}\n\n" + "\n\n".join(lines)
        docs.append(_doc(collection, doc_id, title, text, {"kind": kind, "source": f"reference/{doc_id}.md"}))
    return docs


def _doc(collection: str, doc_id: str, title: str, text: str, meta: dict) -> Document:
    return Document(doc_id=doc_id, collection=collection, title=title, text=text, metadata=meta,
                    content_hash=content_hash(title, text, meta), n_tokens=len(text.split()))


def write_documents(store: CollectionStore, docs: list[Document], embedder) -> int:
    """Chunk, embed and write ``docs`` in one transaction (small chunks: several per document)."""
    config = ChunkConfig(max_tokens=24, overlap_tokens=8, overlap_sentences=1)
    updates = []
    for doc in docs:
        spans = chunk_spans(doc.text, embedder.token_starts, config)
        vectors = embedder.encode([doc.text[a:b] for a, b in spans])
        updates.append(DocumentWrite(doc, text_hash(doc.text), [doc.metadata["source"]], spans, vectors))
    return store.write(updates)


def build_collection(data_dir: Path, embedder, name: str = "clinic", index_kind: str = "flat") -> Path:
    settings = CollectionSettings(embed_model=embedder.name, dim=embedder.dim, tokenizer="words",
                                  index_kind=index_kind)
    store = CollectionStore.create(data_dir, name, settings)
    try:
        write_documents(store, documents(name), embedder)
    finally:
        store.close()
    return data_dir
