"""Model: which backend answers (the in-process engine with its kernels and device, or a server URL),
its context window, the memory planner's limits, and the loaded checkpoint.

On a GPU the engine's own plan is shown. Without one (CPU, or a remote server) the planner still
answers "what would fit on a GPU of this size" for the loaded checkpoint's config: a pure computation
(``model.plan.plan``) that allocates nothing.
"""

from __future__ import annotations

import streamlit as st

from app.service import QAError
from app.ui import resources
from app.ui.components import random_weights_banner
from app.ui.highlight import md_escape
from app.ui.state import current_config
from model.backend import BackendError
from model.plan import GiB

ROWS = [  # (info key, label) in the order a user reads them
    ("kind", "Backend"), ("name", "Model"), ("checkpoint", "Checkpoint"), ("url", "Server URL"),
    ("device", "Device"), ("dtype", "Dtype"), ("kernels", "Kernels"), ("context_window", "Context window"),
    ("model_context_window", "Model's own window"), ("prefill_chunk", "Prefill chunk"),
    ("layers", "Layers"), ("hidden_size", "Hidden size"), ("token_counts", "Token counts"),
]


def _facts(info: dict) -> None:
    shown = {k for k, _ in ROWS} | {"planner", "random_weights"}
    import pandas as pd

    rows = [(label, _fmt(info[key])) for key, label in ROWS if info.get(key) not in (None, "")]
    rows += [(key, _fmt(value)) for key, value in info.items() if key not in shown]
    st.table(pd.DataFrame({"value": [v for _, v in rows]}, index=[k for k, _ in rows]))


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _planner(backend, info: dict) -> None:
    st.subheader("Memory planner")
    if "planner" in info:
        st.caption("The engine's plan for this GPU: requests over the limit are refused before any work.")
        st.code(info["planner"]["summary"], language=None)
        return
    engine = getattr(backend, "engine", None)
    if engine is None:
        st.caption("The server plans its own memory; its context window above is the limit.")
        return
    st.caption("No GPU in use: what the planner says this checkpoint could hold on a GPU of this size.")
    cols = st.columns(3)
    gib = cols[0].number_input("GPU memory (GiB)", min_value=1.0, value=139.0, step=1.0,
                               help="139 GiB: one H200; 79 GiB: one H100 80GB")
    dtype = cols[1].selectbox("Dtype", ["bfloat16", "float16", "float32"])
    chunk = cols[2].number_input("Prefill chunk (tokens)", min_value=256, value=backend.prefill_chunk,
                                 step=256)
    from model.plan import plan

    st.code(str(plan(engine.config, dtype, int(gib * GiB), int(chunk))), language=None)


def render() -> None:
    settings = current_config().settings
    st.title("Model")
    try:
        backend = resources.backend(settings)
        info = backend.info()
    except QAError as e:
        st.error(f"The model is not available: {e}")
        st.caption("Change the checkpoint or server URL in the sidebar's Settings, or fix the setting in "
                   "the environment (DOCQA_MODEL, DOCQA_SERVER_URL) and reload.")
        return
    except BackendError as e:  # a server that answered the first time and is gone now
        st.error(f"The model did not answer: {e}")
        return
    if backend.random_weights:
        random_weights_banner()
    where = info.get("device") if info.get("kind") == "engine" else (info.get("url") or settings.server_url)
    st.markdown(f"**{md_escape(info.get('name') or backend.name)}** · {md_escape(info.get('kind', ''))} · "
                f"{md_escape(str(where))} · context window {backend.context_window:,} tokens")
    _facts(info)
    _planner(backend, info)


render()
