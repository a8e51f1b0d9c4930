#!/usr/bin/env bash
# Unpacks what training/gpu/train-all.sh or train-detector.sh left under $OUT (the folder the
# device tool copied back, given as $1) into training/runs: the runs and their logs.
set -euo pipefail
from=${1:?usage: unpack.sh FOLDER}
cd "$(dirname "$0")/.."
mkdir -p runs
found=0
for name in logs enc det; do
  if [ -f "$from/$name.tar" ]; then tar -xf "$from/$name.tar" -C runs; found=1; fi
  if compgen -G "$from/$name.tar.part*" > /dev/null; then cat "$from/$name.tar.part"* | tar -x -C runs; found=1; fi
done
[ $found = 1 ] || { echo "nothing to unpack in $from" >&2; exit 1; }
ls -d runs/gpu-*
