#!/usr/bin/env bash
# Second GPU session: the same measurements on an H100, plus cuDNN autotuning on/off (first-step
# cost vs steady throughput), and the GPU path of train.py after the GPU-slot change.
#   OUT=/tmp/gpu bash benchmarks/gpu_check2.sh
. "$(dirname "$0")/gpu_common.sh"
B="python3 scripts/bench.py --device cuda --batch-size 512 --steps 40 --chunk 10 --warmup 10"
$B --arch resnet50 --cudnn-benchmark --json "$OUT/bench_resnet50.json" 2>&1 | tail -6
$B --arch resnet50 --json "$OUT/bench_resnet50_nobench.json" 2>&1 | tail -6
$B --arch resnet20 --json "$OUT/bench_resnet20.json" 2>&1 | tail -6
python3 scripts/data.py synthetic --root "$W/raw" --train 50000 --test 10000 >/dev/null
python3 scripts/data.py prepare --data-dir "$W/raw" --out "$W/prep" --dataset synthetic
python3 scripts/train.py --data "$W/prep" --out "$W/run" --arch resnet50 --epochs 3 --batch-size 512 \
  --lr 0.01 --wd 5e-4 --mom 0.85 --device cuda 2>&1 | tee "$OUT/train_resnet50.txt"
