#!/usr/bin/env bash
# One short GPU session (~4-5 min): throughput ratios for ResNet-50 and ResNet-20, a real 3-epoch
# ResNet-50 run through scripts/train.py on 50k generated images (45k train / 5k val, the default
# split), the LR finder on CUDA, and the torch.compile variant with its warm-up.
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh
. "$(dirname "$0")/gpu_common.sh"
for arch in resnet50 resnet20; do  # (this session ran with cuDNN autotuning on: the first-step numbers include it)
  echo "== bench $arch"
  python3 scripts/bench.py --arch "$arch" --device cuda --batch-size 512 --steps 40 --chunk 10 --warmup 10 \
    --json "$OUT/bench_$arch.json" 2>&1 | tee "$OUT/bench_$arch.txt"
done
echo "== real run: train.py resnet50, 3 epochs x 45k images"
python3 scripts/data.py synthetic --root "$W/raw" --train 50000 --test 10000
python3 scripts/data.py prepare --data-dir "$W/raw" --out "$W/prep" --dataset synthetic
/usr/bin/time -v python3 scripts/train.py --data "$W/prep" --out "$W/run" --arch resnet50 --epochs 3 \
  --batch-size 512 --lr 0.01 --wd 5e-4 --mom 0.85 --device cuda 2>&1 | grep -v "^\s*\(Page\|Socket\|Signal\|Swap\|File\|Average\|Minor\|Major\|Vol\|Invol\|Exit\|Percent\|System\|User\)" | tee "$OUT/train_resnet50.txt"
cp "$W/run/metrics.tsv" "$OUT/train_resnet50_metrics.tsv" 2>/dev/null
echo "== LR finder on CUDA"
python3 scripts/lr_find.py --data "$W/prep" --out "$W/lrf" --arch resnet50 --batch-size 512 --steps 100 --device cuda 2>&1 | tee "$OUT/lr_find.txt"
echo "== bench resnet50 with torch.compile"
timeout 240 python3 scripts/bench.py --arch resnet50 --device cuda --batch-size 512 --steps 40 --chunk 10 --warmup 10 \
  --compile --json "$OUT/bench_resnet50_compile.json" 2>&1 | tail -8 | tee "$OUT/bench_resnet50_compile.txt"
