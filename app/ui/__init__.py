"""The Streamlit UI: thin pages over ``app.service``, the ingestion pipeline and the model backend.

The UI knows widgets, sessions and rendering; it computes nothing itself. Run it with
``scripts/ui.sh`` (binds 127.0.0.1) or ``streamlit run app/ui/main.py``. Pages: Ask, Documents,
Batch, Model (``page_*.py``); shared pieces: ``state`` (configuration per session), ``resources``
(models and services loaded once per process), ``components`` and ``highlight`` (drawing).
"""
