#!/bin/sh
# Builds bench/<name>.cpp (usearch-filtered, usearch-walk) against the usearch package's own C++
# headers and runs it with the arguments that follow (see the .cpp). Needs g++; nothing is installed.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: usearch-cpp.sh <usearch-filtered|usearch-walk> [arguments]}
shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
g++ -O3 -march=native -std=c++17 -fexceptions -Wno-unknown-pragmas -I "$root/node_modules/usearch/include" \
  "$root/bench/$name.cpp" -o "$out/$name"
"$out/$name" "$@"
