"""Format readers: files become whole documents (ParsedDocument), never chunks, never prompts.

The pipeline calls, in order::

    for file, root in discover(paths, options, on_skip=...):   # safe walk, sorted (walk.py)
        try:
            docs += read_path(file, root, options)              # one reader per format (registry.py)
        except ReaderError as err:                               # one clear line per bad file
            record(file, str(err))
    docs = group_documents(docs, options.group_by)               # file | patient | folder (group.py)

Readers: text/Markdown with front matter (text.py), PDF (pdf.py), DOCX (docx_reader.py), HTML
(html_reader.py), CSV (csv_reader.py), FHIR R4 Bundle/NDJSON (fhir*.py), C-CDA (ccda*.py), source code
(code_reader.py). Document ids: front matter ``doc_id``; the patient id for FHIR and C-CDA; else the
POSIX path relative to the root, with whitespace, brackets and control characters percent-encoded so
an answer can cite ``[doc_id]``.
"""

from ingest.readers.base import ReadOptions, make_doc_id
from ingest.readers.group import group_documents
from ingest.readers.registry import read_path
from ingest.readers.walk import discover

__all__ = ["ReadOptions", "discover", "group_documents", "make_doc_id", "read_path"]
