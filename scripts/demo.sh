#!/usr/bin/env bash
# The main job on the bundled sample data: set up, ingest the sample corpus, evaluate retrieval on the
# bundled question set, and answer sample questions end to end. No GPU, no model hub.
# Offline the model is the tiny random-weights Jamba: its text is labelled noise; the evidence is real.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export DOCQA_DATA_DIR=${DOCQA_DATA_DIR:-data/collections}
py=.venv/bin/python

echo; echo "== 1/3 ingest the sample corpus (re-runs embed nothing new)"
$py -m ingest add data/samples/patients data/samples/reference --collection samples

echo; echo "== 2/3 retrieval quality on the bundled question set (dense vs BM25 vs hybrid)"
$py -m retrieval eval --collection samples --questions data/samples/questions.jsonl

# On 2 CPU cores the engine prefills the tiny model at 5-10K tokens/s and far slower for a real checkpoint
# (docs/benchmarks.md), so the demo packs 16K-token prompts; set DOCQA_BUDGET, or use a GPU or a server,
# for prompts that fill the model's whole context window.
budget=${DOCQA_BUDGET:-16000}
echo; echo "== 3/3 questions answered end to end (retrieval, packing, Jamba engine, checked citations; budget $budget tokens)"
while IFS= read -r q; do
  echo; echo "Q: $q"
  $py -m app.ask "$q" --collection samples --budget "$budget"
done < <($py -m app.demo_questions data/samples/questions.jsonl)
