"""Heavy resources, loaded once per process and shared by every browser session (``st.cache_resource``).

The model backend, the embedder and the question-answering service each load once per distinct setting,
with a spinner. A load that fails raises (Streamlit does not cache exceptions), so the next rerun tries
again: a server that comes back, or a checkpoint path fixed in the sidebar, recovers without a restart.

One process-wide lock serializes asking: the in-process engine owns one model and one cache, and the
sessions share the service's store handles. A session that finds the lock taken says so ("waiting for
the model") instead of looking frozen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple

import streamlit as st

from app.service import QAService, build_backend
from app.settings import Settings

log = logging.getLogger(__name__)


def _model_key(s: Settings) -> tuple:
    return (s.model, s.server_url, s.api_key, s.device, s.resolved_dtype, s.tokenizer)


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def _backend(key: tuple, _settings: Settings):
    return build_backend(_settings)


@st.cache_resource(show_spinner="Loading the embedding model…", max_entries=2)
def embedder(name: str | None):
    """The sentence-transformers embedder (``None``: the bundled all-MiniLM-L6-v2)."""
    from ingest.embed import Embedder

    return Embedder(name)


def backend(settings: Settings):
    """The configured model backend; raises ``QAError("model_unavailable", ...)`` when it cannot load."""
    return _backend(_model_key(settings), settings)


@st.cache_resource(max_entries=4)
def _service(key: tuple, _settings: Settings) -> QAService:
    return QAService(_settings.data_dir, backend(_settings), embedder(_settings.embed_model),
                     debug=_settings.debug)


def service(settings: Settings) -> QAService:
    """The service for these settings: one per (data dir, model, embedder), with its store handles."""
    return _service(astuple(settings), settings)


@st.cache_resource
def _ask_lock() -> threading.Lock:
    return threading.Lock()


@contextmanager
def model_turn(wait_message: str = "Waiting for the model: another session is answering…") -> Iterator[None]:
    """Hold the process-wide ask lock; show a status while another session holds it."""
    lock = _ask_lock()
    if not lock.acquire(blocking=False):
        status = st.status(wait_message, state="running")
        t0 = time.perf_counter()
        lock.acquire()
        waited = time.perf_counter() - t0
        log.info("waited %.1f s for the model (another session was asking)", waited)
        status.update(label=f"Waited {waited:.1f} s for the model", state="complete")
    try:
        yield
    finally:
        lock.release()
