#!/usr/bin/env bash
# Set up .venv (scripts/setup_env.sh), lint and format-check with ruff, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
# The demo page's test drives headless Chromium (Debian's chromium and chromium-driver).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=""
  if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
  if [ "$(id -u)" = "0" ] || [ -n "$SUDO" ]; then
    echo "Installing chromium and chromium-driver for the browser test (apt-get)"
    if ! { $SUDO apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }; then
      echo "apt-get could not install chromium: the browser test will skip"
    fi
  else
    echo "No chromium and no root: the browser test will skip (apt-get install chromium chromium-driver)"
  fi
fi
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
# Two workers (pytest-xdist), each taking whole files, the slowest files first (their order is
# in tests/conftest.py): the long project workflows run beside the rest of the suite instead of
# after it. `bash scripts/test.sh -n 0` runs everything in one process.
exec .venv/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder "$@"
