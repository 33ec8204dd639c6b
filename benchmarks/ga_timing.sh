#!/usr/bin/env bash
# The GA workflow end to end on one GPU: its wall clock against the train jobs' own times, the
# per-job fixed cost, and the projected wall clock of the default GA (10 x 5, 15 epochs, LR finder,
# baseline, 2 x 3 final runs). Generated data of CIFAR-10's size (50k train / 10k test images).
#   bash benchmarks/ga_timing.sh          GPU: ResNet-50, population 4, 2 generations, 2 epochs
#   bash benchmarks/ga_timing.sh --dry    CPU: the smoke config, 1 generation (what CI runs)
# Writes $OUT/ga_timing.json (default OUT=/tmp/ga-timing) and prints the summary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/ga-timing}
mkdir -p "$OUT"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for d in workflow scripts config envs; do cp -r "$ROOT/$d" "$W/"; done
if [ "${1:-}" = --dry ]; then
  printf 'outdir: results/timing\nga: {generations: 1}\nfinal: {seeds: 1}\n' > "$W/timing.yaml"
  CONFIGS=(config/smoke.yaml timing.yaml)
  CORES=2
else
  cat > "$W/timing.yaml" <<'YAML'
outdir: results/timing
data: {dataset: synthetic, val_size: 5000, synthetic: {train: 50000, test: 10000}}
train: {arch: resnet50, epochs: 2, device: cuda}
ga: {population: 4, generations: 2, elites: 2}
lr_find: {steps: 50}
final: {seeds: 1}
YAML
  CONFIGS=(config/config.yaml timing.yaml)
  CORES=8
fi
cd "$W"
t0=$(date +%s.%N)
snakemake --cores "$CORES" --resources gpu=1 --configfile "${CONFIGS[@]}" > "$OUT/snakemake.log" 2>&1 || {
  tail -30 "$OUT/snakemake.log"; exit 1; }
t1=$(date +%s.%N)
python3 "$ROOT/benchmarks/ga_timing.py" --outdir "$W/results/timing" --start "$t0" --end "$t1" \
  --json "$OUT/ga_timing.json"
