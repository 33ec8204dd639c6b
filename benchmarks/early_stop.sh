#!/usr/bin/env bash
# ga.early_stop on the CPU: the same GA (population 8, 4 generations, 6 epochs, generated data) with
# and without early stopping; prints the epochs trained and saved and each arm's best genome.
#   bash benchmarks/early_stop.sh [EPOCH] [MARGIN]      (default: 2 0.0; ~15 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
epoch="${1:-2}"
margin="${2:-0.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for arm in off on; do
  if [ "$arm" = on ]; then stop="{epoch: $epoch, margin: $margin}"; else stop=null; fi
  printf 'outdir: results/early_stop_cpu_%s\nga: {early_stop: %s}\n' "$arm" "$stop" > "$work/$arm.yaml"
  start=$(date +%s)
  if ! snakemake "results/early_stop_cpu_$arm/search/summary.tsv" "results/early_stop_cpu_$arm/search/best.tsv" \
    --cores 2 --configfile benchmarks/early_stop_cpu.yaml "$work/$arm.yaml" > "$work/$arm.log" 2>&1; then
    tail -30 "$work/$arm.log"
    exit 1
  fi
  echo "== early_stop $stop: $(( $(date +%s) - start )) s"
  python - "results/early_stop_cpu_$arm" <<'PY'
import sys
import pandas as pd
out = sys.argv[1]
s = pd.read_csv(f"{out}/search/summary.tsv", sep="\t")
s = s[s["method"] == "ga"]
b = pd.read_csv(f"{out}/search/best.tsv", sep="\t")
b = b[b["method"] == "ga"].iloc[0]
print(s[["round", "new_runs", "stopped", "epochs_trained", "epochs_saved", "best", "best_so_far"]].to_string(index=False))
print(f"epochs trained {s['epochs_trained'].sum()}, saved {s['epochs_saved'].sum()}; best {b['run']} fitness {b['fitness']}")
PY
done
