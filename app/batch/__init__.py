"""Batch document analysis: many questions over many documents, unattended, resumable, crash-safe.

Batch analysis knows question files, (document, question) items and result records; it asks the model
through the same ``ChatBackend`` and ``retrieval`` packing the question-answering service uses, and
never touches kernels or indexes. Two modes:

- ``per-document``: every question is asked of every selected document, each given whole (or reduced
  by the same ``pack`` when it exceeds the budget);
- ``retrieval``: every question is answered over the collection through ``QAService``.

Results are appended to ``results.jsonl`` one fsynced line per finished item, so a killed run loses
at most the items in flight, and re-running the same command skips what is done.
"""
