#!/usr/bin/env bash
# Set up .venv (scripts/setup_env.sh) and run the project workflow on the bundled demo corpus:
# convert, train jointly from separate corpora, train single-task baselines, evaluate,
# package a wheel and install it into a fresh virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/python -m spacy project run all . "$@"
