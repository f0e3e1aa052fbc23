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
# The explorer's browser tests (tests/explore) drive a real Chromium through Playwright, never
# Playwright's own download: Debian's chromium where apt-get runs as root; elsewhere
# SATCLIP_CHROMIUM names a Chrome or Chromium binary, or those tests are skipped, saying why.
if [[ -z "${SATCLIP_CHROMIUM:-}" ]] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
  && ! command -v google-chrome >/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    echo "setup: installing chromium with apt-get (the explorer's browser tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
      || echo "setup: chromium could not be installed; the browser tests will be skipped"
  else
    echo "setup: no Chromium and no root apt-get: the browser tests will be skipped (set SATCLIP_CHROMIUM)"
  fi
fi
echo "setup: ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
