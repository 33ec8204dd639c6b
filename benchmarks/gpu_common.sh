# The preamble the GPU check (gpu_check4.sh) sources: $OUT for what comes back, a scratch folder $W removed
# on exit, the GPU and library versions in $OUT/gpu.txt, and step(): one command under a time limit,
# its output kept in $OUT/log.txt and its tail shown.
#   . "$(dirname "$0")/gpu_common.sh"
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import sys, torch, torchvision; print('python', sys.version.split()[0], 'torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" | tee -a "$OUT/gpu.txt"
step() { local t=$1; shift; echo "== $*"; timeout "$t" "$@" 2>&1 | tee -a "$OUT/log.txt" | grep -v '^\[' | tail -12; }
