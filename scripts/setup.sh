#!/usr/bin/env bash
# Create (or refresh) the virtual environment .venv in the repository root and install satclip
# with everything its demo and tests need. Safe to rerun; a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
# torch 2.14.1 + torchvision 0.29.1 (they lie on local disk here; a CUDA build that runs on
# CPU): timm and GeoCLIP need torchvision, which the CPU-only torch 2.13.0 file cannot load.
# The core alone works with any torch >= 2.1; SATCLIP_TORCH can name other pins.
pip_install() {
  # pip here warns about every absent local index directory; keep its real messages only.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2>&1 \
    | { grep -v "^WARNING: Location" || true; }
  return "${PIPESTATUS[0]}"
}
echo "setup: installing torch and satclip[test] into .venv"
# shellcheck disable=SC2086  # the pins are separate words on purpose
pip_install ${SATCLIP_TORCH:-torch==2.14.1 torchvision==0.29.1}
pip_install -e ".[test]"
echo "setup: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
