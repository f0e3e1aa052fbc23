#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up .venv, lint, then every test (slow ones too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/python -m pytest "$@"
