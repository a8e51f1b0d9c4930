#!/usr/bin/env bash
# One call on a lent CUDA machine (the `device` tool) trains, side by side on the one GPU:
#   - the dual encoder twice from scratch, presets `base` and `wide` (MODEL.md's two models),
#     each on a fixed budget of training time (--budget-minutes: the cosine runs on the clock,
#     so the schedule completes whatever the throughput), then evaluates both;
#   - the detector from scratch on the same budget, then evaluates it (a warm start from the
#     committed graph needs the PyTorch that exported it, Debian's 1.13: see warm_start.py).
# The encoder that comes back is the one with the better *validation-style* score
# (mean of val T→I R@5 and I→I R@1, float; the test style plays no part in the choice): pick.py.
# Call it with
#   carry: ["training/data/emoji-v1.tar.xz"], timeout_s: 590, command: "bash training/gpu/train-all.sh"
# and unpack here with training/gpu/unpack.sh <files_at>. At most 8 files of 16 MiB come back:
# the winner's run (model.pt, no optimizer checkpoint) in 15 MiB parts, the detector's run, and
# every run's logs and evaluations.
# SMOKE=1 runs the same steps on the CPU with tiny budgets, to check the script before a lease.
source "$(dirname "$0")/common.sh"
if [ "${SMOKE:-0}" = 1 ]; then
  BUDGET=${BUDGET:-0.1} DEADLINE=${DEADLINE:-400} WORKERS=${WORKERS:-1} AMP="" THREADS=1
else
  BUDGET=${BUDGET:-6.5} DEADLINE=${DEADLINE:-540} WORKERS=${WORKERS:-10} AMP="--amp" THREADS=2
fi
R=gpu-$(date +%m%d%H%M)
pids=()
for preset in base wide; do
  OMP_NUM_THREADS=$THREADS "$PY" -m lookbook_training.train --name "$R-$preset" --preset "$preset" \
    --epochs 5000 --budget-minutes "$BUDGET" --eval-every 50 --channels-last $AMP --threads $THREADS \
    > "runs/$R-$preset.out" 2>&1 &
  pids+=($!)
done
OMP_NUM_THREADS=1 "$PY" -m lookbook_training.detector.train --name "$R-det" \
  --budget-minutes "$BUDGET" --epochs 5000 \
  --batch-size 128 --ema-decay 0.999 --ema-tau 200 --workers "$WORKERS" --eval-every 0 --eval-count 1000 \
  --channels-last $AMP --threads 2 > "runs/$R-det.out" 2>&1 &
pids+=($!)
echo "started ${pids[*]} at $(elapsed) s; budget $BUDGET min, deadline $DEADLINE s"
# Wait, printing progress; at the deadline stop what still runs (SIGTERM: training checkpoints).
while :; do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  if [ "$(elapsed)" -ge "$DEADLINE" ]; then
    echo "deadline at $(elapsed) s: stopping what still runs"
    pkill -TERM -f "lookbook_training" ; sleep 8; pkill -KILL -f "lookbook_training"
    break
  fi
  sleep 30
  for f in runs/$R-*.out; do echo "[$(elapsed) s] $f: $(tail -n 1 "$f")"; done
done
for f in runs/$R-*.out; do echo "=== $f"; tail -25 "$f"; done
win=$("$PY" gpu/pick.py "runs/$R-base" "runs/$R-wide")
echo "encoder brought back: $win"
tar -cf "$OUT/enc.tar" --exclude checkpoint.pt -C runs "$(basename "$win")"
split -b 15M -d -a 1 "$OUT/enc.tar" "$OUT/enc.tar.part" && rm "$OUT/enc.tar"
tar -cf "$OUT/det.tar" --exclude checkpoint.pt -C runs "$R-det"
tar -cf "$OUT/logs.tar" --exclude checkpoint.pt --exclude model.pt -C runs "$R-base" "$R-wide" "$R-det" \
  "$R-base.out" "$R-wide.out" "$R-det.out"
ls -la "$OUT"; echo "done at $(elapsed) s"
