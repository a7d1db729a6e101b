"""The Jamba engine: tokens in, tokens out.

This package knows tokens, weights, kernels, caches, sampling and GPU memory, plus the
OpenAI-compatible server and clients. It imports nothing from ``ingest``, ``retrieval`` or ``app``.
"""
