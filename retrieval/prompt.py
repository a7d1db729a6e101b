"""Prompt layout: how a packed document is wrapped, and the chat messages around the documents.

Each document is wrapped in a tag carrying its id, title and key metadata, so the model can cite
``[doc_id]`` and knows whose record and which dates it is reading. The question comes after the
documents (models answer long-context questions better when the question is nearest the answer
position) and the system prompt tells the model to answer only from the documents. Applying a chat
template is the model backend's job; this module returns plain ``{"role", "content"}`` messages.
"""

from __future__ import annotations

import html

from retrieval.filters import document_dates
from retrieval.types import PackedContext

SYSTEM_PROMPT = (
    "You answer questions using only the documents in the user's message. "
    "After each claim, cite the document it comes from as [doc_id], using the id attribute of its "
    "<document> tag, for example [P0007]. Quote exact values (doses, dates, lab results) as written. "
    "If the documents do not contain the answer, say \"not documented\" and do not guess. "
    "Some documents are excerpts: text marked \"[... omitted ...]\" was left out to fit the prompt."
)

DOCUMENTS_HEADER = "Documents:\n\n"
NO_DOCUMENTS = "No documents matched this question.\n\n"
DOCUMENT_SEPARATOR = "\n\n"
QUESTION_TEMPLATE = (
    "Question: {question}\n\n"
    "Answer from the documents above only, citing [doc_id] after each claim. "
    "If they do not contain the answer, say \"not documented\"."
)
# Role markers and turn separators a chat template adds per message; used only when pack() is not given
# an exact count_messages. Jamba's template adds ~5 tokens per message; 8 leaves a margin.
MESSAGE_OVERHEAD = 8


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True).replace("\n", " ")


def document_attributes(doc_id: str, title: str, metadata: dict) -> dict[str, str]:
    """The tag attributes of a document: id, title, and the metadata that helps a reader place it."""
    attrs = {"id": doc_id}
    if title:
        attrs["title"] = title
    kind = metadata.get("kind")
    if kind:
        attrs["kind"] = str(kind)
    patient = metadata.get("patient_id")
    if patient and str(patient) != doc_id:
        attrs["patient"] = str(patient)
    first, last = document_dates(metadata)
    if first:
        attrs["dates"] = str(first) if last in (None, first) else f"{first} to {last}"
    source = metadata.get("source")
    if source and str(source) != doc_id:
        attrs["source"] = str(source)
    return attrs


def wrap_document(doc_id: str, title: str, metadata: dict, text: str, excerpt: bool = False) -> str:
    """A document as the prompt shows it: ``<document id=... title=...>text</document>``."""
    attrs = document_attributes(doc_id, title, metadata)
    if excerpt:
        attrs["excerpt"] = "true"
    tag = " ".join(f'{k}="{_attr(v)}"' for k, v in attrs.items())
    return f"<document {tag}>\n{text}\n</document>"


def compose_messages(wrapped: list[str], question: str, system_prompt: str | None = None) -> list[dict]:
    """System and user messages around already wrapped documents, in prompt order."""
    if wrapped:
        body = DOCUMENTS_HEADER + "".join(w + DOCUMENT_SEPARATOR for w in wrapped)
    else:
        body = NO_DOCUMENTS
    return [
        {"role": "system", "content": SYSTEM_PROMPT if system_prompt is None else system_prompt},
        {"role": "user", "content": body + QUESTION_TEMPLATE.format(question=question.strip())},
    ]


def build_messages(packed: PackedContext, question: str | None = None,
                   system_prompt: str | None = None) -> list[dict]:
    """Chat messages for a packed context: system prompt, then the documents and the question.

    ``question`` and ``system_prompt`` default to the ones the context was packed with, whose token
    counts the budget already accounts for.
    """
    wrapped = [wrap_document(d.doc_id, d.title, d.metadata, d.text, d.reduced) for d in packed.documents]
    system = packed.system_prompt if system_prompt is None else system_prompt
    return compose_messages(wrapped, packed.question if question is None else question, system)
