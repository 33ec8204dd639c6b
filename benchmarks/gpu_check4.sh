#!/usr/bin/env bash
# The GPU check: the three-pipeline benchmark with a deterministic row
# (ResNet-50 and ResNet-20), several jobs per GPU, two deterministic runs of one genome compared,
# and the compile warm-up with a cold and a warm shared cache. Every step has its own time limit.
# The workflow end to end is benchmarks/ga_timing.sh (a second call).
#   OUT=/tmp/gpu bash benchmarks/gpu_check4.sh
. "$(dirname "$0")/gpu_common.sh"

B="python3 scripts/bench.py --device cuda --batch-size 512 --steps 20 --repeats 3 --warmup 5 --deterministic"
step 100 $B --arch resnet50 --json "$OUT/bench_resnet50.json"
step 80 $B --arch resnet20 --json "$OUT/bench_resnet20.json"
step 80 python3 benchmarks/jobs_per_gpu.py --arch resnet50 --steps 30 --json "$OUT/jobs_resnet50.json"
step 60 python3 benchmarks/jobs_per_gpu.py --arch resnet20 --steps 80 --json "$OUT/jobs_resnet20.json"

python3 scripts/data.py synthetic --root "$W/raw" --train 50000 --test 10000 >/dev/null
python3 scripts/data.py prepare --data-dir "$W/raw" --out "$W/prep" --dataset synthetic
T="python3 scripts/train.py --data $W/prep --batch-size 512 --device cuda --deterministic --threads 4"
for i in 1 2; do
  step 60 $T --out "$W/det50_$i" --arch resnet50 --epochs 2 --max-train 20480 --lr 5e-3 --wd 5e-4 --mom 0.85 --seed 0
  step 40 $T --out "$W/det20_$i" --arch resnet20 --epochs 2 --lr 5e-2 --wd 5e-4 --mom 0.85 --seed 0
done
for a in det50 det20; do  # every column but the wall-clock ones must be equal
  python3 - "$W/${a}_1/metrics.tsv" "$W/${a}_2/metrics.tsv" <<'PY' | tee -a "$OUT/determinism.txt"
import sys, pandas as pd
a, b = (pd.read_csv(p, sep="\t").drop(columns=["seconds", "images_per_s"]) for p in sys.argv[1:])
print(sys.argv[1].split("/")[-2][:-2], "two deterministic runs identical:", a.equals(b), "rows", len(a), "top1", list(a["top1"]))
PY
done
cp "$W/det50_1/result.json" "$OUT/result_det50.json"
for i in cold warm; do  # the compile cache is shared through --cache-dir, as the workflow does
  step 120 python3 scripts/train.py --data "$W/prep" --out "$W/compile_$i" --arch resnet50 --epochs 1 --max-train 10240 \
    --batch-size 512 --device cuda --compile --cache-dir "$W/cache"
  python3 -c "import json,sys; r=json.load(open('$W/compile_$i/result.json')); print('compile $i: process', round(r['process_seconds'],1), 's, train', round(r['seconds'],1), 's')" | tee -a "$OUT/compile.txt"
done
