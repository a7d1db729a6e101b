#!/usr/bin/env bash
# Start the Streamlit UI on 127.0.0.1 (DOCQA_UI_ADDRESS / DOCQA_UI_PORT to change; binding another
# address exposes documents to the network: do it only behind your own authentication).
# Settings come from DOCQA_* variables and docqa.toml (see app/ui_config.py); extra arguments go to
# `streamlit run`, e.g. scripts/ui.sh --server.port 8600.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m streamlit run app/ui/main.py \
    --server.address "${DOCQA_UI_ADDRESS:-127.0.0.1}" \
    --server.port "${DOCQA_UI_PORT:-8501}" \
    --server.headless true \
    --server.maxUploadSize "${DOCQA_UI_MAX_UPLOAD_MB:-50}" \
    --browser.gatherUsageStats false \
    --client.toolbarMode minimal \
    "$@"
