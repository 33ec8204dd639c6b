#!/usr/bin/env bash
# The GA workflow end to end from a fresh copy: where its wall clock goes per job kind (train jobs
# split into imports, setup, epochs and teardown; Snakemake's own share), against a bare
# `import torch` measured in the same run, and the projected wall clock of the default GA.
#   bash benchmarks/ga_timing.sh          GPU: ResNet-50, population 4, 2 generations, 2 epochs
#   bash benchmarks/ga_timing.sh --dry    CPU: the smoke config as a newcomer runs it (what CI runs)
#   CHECK=1 bash benchmarks/ga_timing.sh --dry   ... and exit 1 when it takes over 180 s, a train job's
#                                         fixed cost exceeds a bare `import torch` by over 1 s or the
#                                         median light or figure job takes over 1 s (CI); on a GPU,
#                                         CHECK=1 checks the fixed cost and the light jobs only
# Writes $OUT/ga_timing.json (default OUT=/tmp/ga-timing) and prints the summary; with KEEP=1 the run's
# outdir is kept as $OUT/results (for benchmarks/compare_tables.py).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/ga-timing}
mkdir -p "$OUT"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for d in workflow scripts config envs; do cp -r "$ROOT/$d" "$W/"; done
if [ "${1:-}" = --dry ]; then
  CONFIGS=(config/smoke.yaml)
  OUTDIR=results/smoke
  ARGS=(--cores 2)
  GOALS=(--max-wall 180)
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
  OUTDIR=results/timing
  ARGS=(--cores 8 --resources gpu=1)
  GOALS=()
fi
cd "$W"
torch_s=$(for _ in 1 2 3; do python3 -c "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"; done |
  sort -n | sed -n 2p)  # the median of three
export PYTHONPATH="$ROOT/benchmarks/timing_hook${PYTHONPATH:+:$PYTHONPATH}" RESNET_GA_TIMING_LOG="$OUT/hook.jsonl"
rm -f "$RESNET_GA_TIMING_LOG"
snakemake "${ARGS[@]}" --configfile "${CONFIGS[@]}" > "$OUT/snakemake.log" 2>&1 || {
  tail -30 "$OUT/snakemake.log"; exit 1; }
unset RESNET_GA_TIMING_LOG
python3 "$ROOT/benchmarks/ga_timing.py" --outdir "$W/$OUTDIR" --hook-log "$OUT/hook.jsonl" \
  --import-torch "$torch_s" --json "$OUT/ga_timing.json" ${CHECK:+--check "${GOALS[@]}"}
if [ "${KEEP:-}" = 1 ]; then rm -rf "$OUT/results" && cp -a "$W/$OUTDIR" "$OUT/results"; fi
