#!/usr/bin/env bash
# One device call: the core's GPU check, then train the two shipped Blue Marble models.
# Runs from the repo root on the GPU machine with the sources carried in .devcache (no registry
# access there): the dataset is built on the machine, then `satclip train --config bluemarble`.
# Usage (on the device): bash bench/gpu_train.sh OUT_DIR [EPOCHS] [MONTHS]
set -euo pipefail
out=${1:?output folder}
epochs=${2:-40}
months=${3:-01,07}  # extra channels: the monthly Blue Marble (seasonal snow and green-up)
channels=$(( 3 + 3 * $(echo "$months" | tr ',' '\n' | grep -c .) ))
export PYTHONPATH=src PYTHONUNBUFFERED=1 SATCLIP_CACHE=.devcache
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
python3 bench/gpu_check.py --points 1000000 2>&1 | tee "$out/gpu_check.md"
start=$(date +%s)
python3 -m satclip.cli data build bluemarble --n 100000 --size 32 --months "$months" --out /tmp/bm100k -q
echo "dataset (months $months, $channels channels) built in $(( $(date +%s) - start )) s" | tee "$out/train_times.txt"
for L in 40 10; do
  start=$(date +%s)
  python3 -m satclip.cli train --config bluemarble "location.legendre_polys=$L" "epochs=$epochs" \
    data.root=/tmp/bm100k "data.months=$months" data.num_workers=12 "name=satclip-bluemarble-l$L" "image.in_channels=$channels" \
    -o "/tmp/run-l$L" -q 2>&1 | grep -vE "litlogger|LeafSpec" | tail -5
  echo "L=$L trained in $(( $(date +%s) - start )) s" | tee -a "$out/train_times.txt"
  cp "/tmp/run-l$L/model.safetensors" "$out/satclip-bluemarble-l$L.safetensors"
  cp "/tmp/run-l$L/logs/metrics.csv" "$out/metrics-l$L.csv"
  cp "/tmp/run-l$L/loss.png" "$out/loss-l$L.png"
done
