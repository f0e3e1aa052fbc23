#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, then load a model and embed a few cities.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/satclip demo "$@"
