"""Retrieval: rank whole documents for a question and pack them into a token budget.

This package knows questions, documents, scores, token budgets, evidence spans and prompt layout.
It reads collections only through ``ingest``'s read API and knows nothing of kernels or UI.
"""
