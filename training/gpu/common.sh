# The start both GPU scripts share (sourced by train-all.sh and train-detector.sh): run from
# training/, OUT for what comes back, the dataset unpacked once, and the torch and GPU in use.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
if [ ! -d data/emoji-v1 ]; then
  mkdir -p data && tar -xJf data/emoji-v1.tar.xz -C data || exit 1
fi
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
nvidia-smi -L 2>/dev/null || true
mkdir -p runs
