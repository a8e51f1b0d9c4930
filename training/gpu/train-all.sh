#!/usr/bin/env bash
# One call on a lent CUDA machine (the `device` tool): trains the default dual encoder and the
# detector, and leaves two tarballs under $OUT to bring back. Call it with
#   carry: ["training/data/emoji-v1.tar.xz"], timeout_s: 600, command: "bash training/gpu/train-all.sh"
# then, here: tar -xf <files_at>/enc.tar -C training/runs && tar -xf <files_at>/det.tar -C training/runs,
# and export on the CPU (training/README.md, "Export"). SMOKE=1 runs the same steps as tiny smoke
# runs, to check the script on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d)}
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
if [ ! -d data/emoji-v1 ]; then
  mkdir -p data && tar -xJf data/emoji-v1.tar.xz -C data
fi
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
if [ "${SMOKE:-0}" = 1 ]; then
  "$PY" -m lookbook_training.train --smoke --out runs/gpu-enc-smoke
  "$PY" -m lookbook_training.detector.train --smoke --out runs/det-gpu-smoke
  enc=gpu-enc-smoke det=det-gpu-smoke
else
  # MODEL.md: 132 epochs of the base model took 3 minutes on an H200 (8.4k img/s); --max-minutes bounds it.
  "$PY" -m lookbook_training.train --name gpu-enc --epochs 130 --amp --max-minutes 4.5 --eval-every 0
  "$PY" -m lookbook_training.detector.train --name det-gpu --budget-minutes 3.5 --max-minutes 4.5 \
    --epochs 1000 --batch-size 128 --amp --workers 14 --eval-every 25 --eval-count 1000
  enc=gpu-enc det=det-gpu
fi
# At most 8 files of 16 MiB come back: one tarball per run, without the optimizer checkpoint.
tar -cf "$OUT/enc.tar" --exclude checkpoint.pt -C runs "$enc"
tar -cf "$OUT/det.tar" --exclude checkpoint.pt -C runs "$det"
ls -la "$OUT"
