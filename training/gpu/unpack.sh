#!/usr/bin/env bash
# Unpacks what training/gpu/train-all.sh left under $OUT (the folder the device tool copied back,
# given as $1) into training/runs: the chosen encoder run, the detector run, every run's logs.
set -euo pipefail
from=${1:?usage: unpack.sh FOLDER}
cd "$(dirname "$0")/.."
mkdir -p runs
tar -xf "$from/logs.tar" -C runs
cat "$from"/enc.tar.part* | tar -x -C runs
tar -xf "$from/det.tar" -C runs
ls -d runs/gpu-*
