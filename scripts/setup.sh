#!/usr/bin/env bash
# Idempotent setup: virtual environment, dependencies, sample corpus, tiny Jamba checkpoint.
# Re-running skips every step whose output is already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing dependencies (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  echo "$want" > "$stamp"
fi

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The corpus is a pure function of the generator's code (seeded): regenerate when that code changed.
corpus_sha=$(cat ingest/samples/*.py | sha256sum | cut -d' ' -f1)
if [ ! -f data/samples/MANIFEST.json ] || [ "$(cat data/samples/.generator.sha 2>/dev/null)" != "$corpus_sha" ]; then
  echo "[setup] generating the sample corpus"
  .venv/bin/python -m ingest.samples generate --out data/samples
  echo "$corpus_sha" > data/samples/.generator.sha
fi
if [ ! -f data/tiny-jamba/config.json ]; then
  echo "[setup] building the tiny random-weights Jamba checkpoint"
  .venv/bin/python -m model.tiny --corpus data/samples --out data/tiny-jamba
fi
echo "[setup] ready"
