#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up .venv, lint, type-check, build the docs with
# no warning, then every test (slow ones too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/python -m mypy  # src/satclip, settings in pyproject.toml
# Not -q: mkdocs 1.6 then silences the warnings that --strict counts (a broken link passed).
NO_MKDOCS_2_WARNING=1 .venv/bin/python -m mkdocs build --strict -d "$(mktemp -d)" 2>&1 | { grep -v "^INFO" || true; }  # mkdocs.yml
.venv/bin/python -m pytest "$@"
