#!/usr/bin/env bash
# Third GPU session (H100): can torch.compile modes take ResNet-50 past 3x the reference?
. "$(dirname "$0")/gpu_common.sh"
B="python3 scripts/bench.py --arch resnet50 --device cuda --batch-size 512 --steps 40 --chunk 10 --warmup 10"
timeout 150 $B --compile-mode reduce-overhead --json "$OUT/bench_resnet50_reduce_overhead.json" 2>&1 | tail -6
timeout 160 $B --compile-mode max-autotune-no-cudagraphs --json "$OUT/bench_resnet50_autotune.json" 2>&1 | tail -6
