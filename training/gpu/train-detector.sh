#!/usr/bin/env bash
# One call on a lent CUDA machine (the `device` tool) trains the detector alone, from scratch,
# on a fixed budget of training time, then evaluates it there (test and validation styles).
# The scene workers (CPU) limit the throughput, so it uses every core for them, a larger model
# (YOLOv8s widths: the GPU has room) and data echoing (--echo: a batch serves again, mirrored,
# while the next is not ready). Call it with
#   carry: ["training/data/emoji-v1.tar.xz"], timeout_s: 600, command: "bash training/gpu/train-detector.sh"
# and unpack here with training/gpu/unpack.sh <files_at>; export with
#   /usr/bin/python3 -m lookbook_training.detector.export --run runs/<run> --out ../models/lookbook-detector --version X
# What comes back: the run (model.pt in 15 MiB parts, no optimizer checkpoint), its log and evaluation.
# Knobs (environment): BUDGET minutes (8.3), DEADLINE seconds for the training process (575),
# PRESET (s), ECHO (3), BATCH (128), WORKERS (cores - 1). SMOKE=1 runs it on the CPU in a minute.
source "$(dirname "$0")/common.sh"
if [ "${SMOKE:-0}" = 1 ]; then
  BUDGET=${BUDGET:-0.15} DEADLINE=${DEADLINE:-240} WORKERS=${WORKERS:-1} BATCH=${BATCH:-16} EVAL=50 AMP=""
else
  BUDGET=${BUDGET:-8.3} DEADLINE=${DEADLINE:-575} WORKERS=${WORKERS:-$(( $(nproc) - 1 ))} BATCH=${BATCH:-128} EVAL=1000 AMP="--amp"
fi
PRESET=${PRESET:-s} ECHO=${ECHO:-3}
R=gpu-$(date +%m%d%H%M)-det-$PRESET
echo "training $R at $(elapsed) s: preset $PRESET, budget $BUDGET min, echo $ECHO, batch $BATCH, $WORKERS workers"
# SIGTERM at the deadline: the trainer checkpoints and exits (then no model.pt and no evaluation).
OMP_NUM_THREADS=1 timeout --signal=TERM --kill-after=15 "$DEADLINE" "$PY" -m lookbook_training.detector.train \
  --name "$R" --preset "$PRESET" --budget-minutes "$BUDGET" --epochs 100000 --batch-size "$BATCH" \
  --echo "$ECHO" --ema-decay 0.999 --ema-tau 200 --workers "$WORKERS" --eval-every 0 --eval-count "$EVAL" \
  --channels-last $AMP --threads 2 2>&1 | tee "runs/$R.out" | awk '!/^step / || (++n % 25) == 1'
echo "exit ${PIPESTATUS[0]} at $(elapsed) s"
tail -n 30 "runs/$R.out"
tar -cf "$OUT/det.tar" --exclude checkpoint.pt -C runs "$R" "$R.out"
split -b 15M -d -a 1 "$OUT/det.tar" "$OUT/det.tar.part" && rm "$OUT/det.tar"
ls -la "$OUT"; echo "done at $(elapsed) s"
