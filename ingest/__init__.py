"""Ingestion: files become whole documents in a persistent collection store.

This package knows files, formats, documents, chunks, embeddings and the on-disk store.
It knows nothing of prompts or models: token counts come from a tokenizer handed in by name.
"""
