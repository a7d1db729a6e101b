"""Per-session configuration: the config file and environment read once, the sidebar's overrides on top.

The entry point calls ``sidebar_config()`` on every run, before the page; pages read the result with
``current_config()``. Nothing here is global: two browser sessions may point at different data
directories or models.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from app.settings import Settings
from app.ui_config import ConfigError, UIConfig, load_ui_config

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
BASE_KEY = "docqa_base_config"
BASE_ERROR_KEY = "docqa_config_error"
EFFECTIVE_KEY = "docqa_config"


def base_config() -> UIConfig:
    """File + environment, read once per session. A broken config file falls back to the environment
    alone (with the reason kept for the sidebar), so the app stays up."""
    if BASE_KEY not in st.session_state:
        try:
            st.session_state[BASE_KEY] = load_ui_config()
        except (ConfigError, ValueError) as e:
            st.session_state[BASE_ERROR_KEY] = str(e)
            try:
                st.session_state[BASE_KEY] = UIConfig(settings=Settings.from_env())
            except ValueError:
                st.session_state[BASE_KEY] = UIConfig()
    return st.session_state[BASE_KEY]


def _text(label: str, value: str | None, key: str, help_text: str) -> str | None:
    if key not in st.session_state:
        st.session_state[key] = value or ""
    out = st.text_input(label, key=key, help=help_text).strip()
    return out or None


def sidebar_config() -> UIConfig:
    """Draw the sidebar's settings and return the configuration this run uses."""
    base = base_config()
    s = base.settings
    with st.sidebar.expander("Settings", expanded=False):
        if BASE_ERROR_KEY in st.session_state:
            st.error(f"Config file ignored: {st.session_state[BASE_ERROR_KEY]}")
        data_dir = _text("Data directory", str(s.data_dir), "set_data_dir",
                         "folder holding one sub-folder per collection (DOCQA_DATA_DIR)")
        server = _text("Server URL", s.server_url, "set_server_url",
                       "an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (DOCQA_SERVER_URL); "
                       "empty: the in-process engine")
        model = _text("Checkpoint", s.model, "set_model",
                      "Jamba checkpoint folder or hub id for the in-process engine (DOCQA_MODEL); "
                      "empty: the tiny random-weights test model")
        if "set_budget" not in st.session_state:
            st.session_state["set_budget"] = s.budget or 0
        budget = st.number_input("Token budget (0: automatic)", min_value=0, step=1000, key="set_budget",
                                 help="prompt tokens for packed documents (DOCQA_BUDGET); 0: the context "
                                 "window less room for the answer")
        if base.source:
            st.caption(f"Config file: {base.source}")
    address = st.get_option("server.address")
    if address not in LOOPBACK:
        st.sidebar.warning(f"This server listens on {address or 'every network interface'}: anyone who can "
                           "reach it can read the documents. scripts/ui.sh binds 127.0.0.1.")
    settings = replace(s, data_dir=Path(data_dir or s.data_dir), server_url=server, model=model,
                       budget=int(budget) or None)
    cfg = replace(base, settings=settings)
    st.session_state[EFFECTIVE_KEY] = cfg
    return cfg


def current_config() -> UIConfig:
    """The configuration of this run (set by the entry point before the page runs)."""
    cfg = st.session_state.get(EFFECTIVE_KEY)
    return cfg if cfg is not None else base_config()
