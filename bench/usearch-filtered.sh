#!/bin/sh
# Builds bench/usearch-filtered.cpp against the usearch package's own C++ headers and runs it with
# the arguments given (see the .cpp). Needs g++; nothing is installed.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
g++ -O3 -march=native -std=c++17 -fexceptions -Wno-unknown-pragmas -I "$root/node_modules/usearch/include" \
  "$root/bench/usearch-filtered.cpp" -o "$out/usearch-filtered"
"$out/usearch-filtered" "$@"
