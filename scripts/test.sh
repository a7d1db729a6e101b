#!/usr/bin/env bash
# Set up, lint, and run the test suite (CPU only; GPU tests skip themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install_browser.sh >/dev/null  # Debian's chromium for the UI's real-browser test
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TRITON_INTERPRET=1
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
