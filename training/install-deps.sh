#!/bin/sh
# Installs the Debian packages in requirements-debian.txt unless Python can already
# import what training/ needs.
set -eu
if /usr/bin/python3 -c 'import torch, onnx, PIL, numpy' 2>/dev/null; then
  echo "training/: torch, onnx, PIL and numpy are already importable"
  exit 0
fi
packages=$(grep -v '^#' "$(dirname "$0")/requirements-debian.txt" | tr '\n' ' ')
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
$sudo apt-get update
# shellcheck disable=SC2086 # one word per package
$sudo apt-get install -y --no-install-recommends $packages
