#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up .venv, lint, type-check, then every test
# (slow ones too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/python -m mypy  # src/satclip, settings in pyproject.toml
.venv/bin/python -m pytest "$@"
