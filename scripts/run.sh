#!/usr/bin/env bash
# The main job on a fresh machine: set up .venv, then build the Blue Marble dataset (or reuse it),
# train bluemarble-quick, evaluate it against raw harmonics, wrap, idw and the imagery row, and
# draw its world map, all into runs/bluemarble-quick (rerun to resume). Extra arguments go to
# `satclip run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/satclip run "$@"
