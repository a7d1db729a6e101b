"""The UI's entry point: ``streamlit run app/ui/main.py`` (``scripts/ui.sh`` binds it to 127.0.0.1).

Sets up the page, reads the configuration (config file, environment, sidebar overrides) and hands
over to the chosen page. Everything else lives in the page modules and ``app.ui`` helpers.
"""

import streamlit as st

from app.ui.state import sidebar_config

st.set_page_config(page_title="docqa: questions over whole documents", page_icon=":material/menu_book:",
                   layout="wide")

PAGES = [
    st.Page("page_ask.py", title="Ask", icon=":material/chat:", default=True),
    st.Page("page_documents.py", title="Documents", icon=":material/folder_open:", url_path="documents"),
    st.Page("page_batch.py", title="Batch", icon=":material/playlist_play:", url_path="batch"),
    st.Page("page_model.py", title="Model", icon=":material/memory:", url_path="model"),
]

page = st.navigation(PAGES)
sidebar_config()
page.run()
