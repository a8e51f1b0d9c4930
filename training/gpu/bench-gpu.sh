#!/usr/bin/env bash
# bench/gpu on a lent GPU host (the `device` tool), ONNX Runtime (onnxruntime-node: WebGPU over
# Vulkan, and the CPU) against PyTorch on the same GPU. The host has PyTorch but no Node.js and
# nothing can be fetched there, so what the bench needs is packed here first
# (node scripts/gpu-bundle.mjs) in two parts that each fit beside the tree in one call:
#
#   call 1, carry [".gpu/node"]:  bash training/gpu/bench-gpu.sh node
#       unpacks Node into .gpu/host (ignored, so it stays on the machine while it is warm),
#       exports the ViT-B/32-sized towers (fp32, fp16) there with the host's PyTorch, times the
#       same model in PyTorch → $OUT/pytorch.json, and notes the host's setup → $OUT/env.txt
#   call 2, carry [".gpu/bench"]: bash training/gpu/bench-gpu.sh bench
#       at once after call 1 (the machine stays warm 30 s): unpacks onnxruntime-node and sharp,
#       installs the Vulkan loader, runs bench/gpu on webgpu and cpu → $OUT/bench-gpu.{json,md}
#
# `all` does both in one call, for a host with Node.js (then only .gpu/bench travels) or a tree
# small enough to carry both parts. Knobs (environment): BENCH_SMOKE=1 runs every step on a CPU
# with the tiny model and tiny counts (to test this script before a lease); BENCH_DEADLINE seconds
# for bench/gpu (360); BENCH_BATCHES (1,32,128,256); BENCH_NODE=carried|host (default: the host's
# node when it is v20 or newer, else the carried one); BENCH_HOST_DIR (.gpu/host).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$(mktemp -d)}
HOST=${BENCH_HOST_DIR:-$ROOT/.gpu/host}
PY=${PYTHON:-python3}
PHASE=${1:-all}
export PYTHONUNBUFFERED=1
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
say() { echo "[bench-gpu $(elapsed) s] $*"; }
mkdir -p "$HOST" "$OUT"

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
  SIZE=tiny BATCHES=${BENCH_BATCHES:-1,4} CPU_BATCHES=1,4 ITER=3 CPU_ITER=2 JPEGS=8 DEADLINE=${BENCH_DEADLINE:-240}
  PT_BATCHES=1,4 VARIANT_BATCH=4
else
  SIZE=vit-b32 BATCHES=${BENCH_BATCHES:-1,32,128,256} CPU_BATCHES=1,16 ITER=20 CPU_ITER=3 JPEGS=256 DEADLINE=${BENCH_DEADLINE:-360}
  PT_BATCHES=1,32,128,256 VARIANT_BATCH=128
fi
MODELS=$HOST/models

# The towers (into .gpu/host/models) and, with `time`, the PyTorch timing: the host's own PyTorch
# and the training code's model. The export is skipped when call 1 left it on this machine.
export_towers() {
  local args=(--size "$SIZE")
  if [ ! -f "$MODELS/$SIZE-fp16/text.onnx" ]; then args+=(--out "$MODELS"); fi
  if [ "${1:-}" = time ]; then args+=(--time --batches "$PT_BATCHES" --json "$OUT/pytorch.json"); fi
  if [ ${#args[@]} -le 2 ]; then return 0; fi
  say "export_vit ${args[*]}"
  (cd training && "$PY" -m lookbook_training.export_vit "${args[@]}" > /dev/null) || return 1
  if [ -f "$OUT/pytorch.json" ]; then say "PyTorch: $(grep -c '"tower"' "$OUT/pytorch.json") rows in pytorch.json"; fi
}

host_notes() {
  {
    echo "date: $(date -u +%FT%TZ)"
    nvidia-smi -L 2>&1 || true
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 || true
    "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no cuda")' 2>&1
    echo "host node: $(command -v node || echo none) $(node --version 2>/dev/null || true)"
    echo "nproc: $(nproc)"
    echo "libvulkan: $(ldconfig -p 2>/dev/null | grep -c libvulkan) entries"
    ls /usr/local/nvidia/share/vulkan/icd.d 2>&1 || true
    grep -E "^(PRETTY_NAME)" /etc/os-release 2>/dev/null || true
    ldd --version 2>&1 | head -1
  } >> "$OUT/env.txt"
}

unpack_node() {
  if [ -x "$HOST/bin/node" ]; then return 0; fi
  if [ -f .gpu/node/node.xz ]; then
    mkdir -p "$HOST/bin" && xz -dc .gpu/node/node.xz > "$HOST/bin/node.tmp" && chmod +x "$HOST/bin/node.tmp" && mv "$HOST/bin/node.tmp" "$HOST/bin/node"
    say "Node unpacked: $("$HOST/bin/node" --version)"
  fi
}

pick_node() {
  local host_major
  host_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "${BENCH_NODE:-}" != carried ] && [ "$host_major" -ge 20 ] 2>/dev/null; then NODE=$(command -v node); return 0; fi
  if [ "${BENCH_NODE:-}" = host ]; then say "no usable node on this host"; return 1; fi
  unpack_node
  if [ -x "$HOST/bin/node" ]; then NODE=$HOST/bin/node; return 0; fi
  say "no Node.js: this host has none and .gpu/host/bin/node is not here (call 1 did not run on this machine, or the machine was given back in between): run call 1 again, then call 2 at once"
  return 1
}

setup_vulkan() {
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
    local deb
    deb=$(ls .gpu/bench/libvulkan1_*.deb 2>/dev/null | head -1)
    if [ -n "$deb" ] && [ "${BENCH_SMOKE:-0}" != 1 ]; then
      dpkg -x "$deb" / && ldconfig && say "Vulkan loader installed from $deb"
    else
      say "no Vulkan loader installed (smoke run, or no .deb): WebGPU will find no adapter"
    fi
  fi
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
  say "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
}

unpack_modules() {
  if [ ! -d "$HOST/node_modules/onnxruntime-node" ] || [ .gpu/bench/node_modules.tar.xz -nt "$HOST/node_modules/.unpacked" ]; then
    rm -rf "$HOST/node_modules" && xz -dc .gpu/bench/node_modules.tar.xz | tar -x -C "$HOST" && touch "$HOST/node_modules/.unpacked" || return 1
  fi
  # The bundle resolves onnxruntime-node and sharp from its own folder upwards.
  cp .gpu/bench/bench-gpu.mjs "$HOST/bench-gpu.mjs"
}

run_bench() {
  pick_node || return 1
  unpack_modules || { say "cannot unpack .gpu/bench/node_modules.tar.xz (carry .gpu/bench)"; return 1; }
  setup_vulkan
  export_towers || say "the $SIZE export failed: bench/gpu runs on the committed models only"
  local models=models/lookbook-emoji
  for precision in fp32 fp16; do
    if [ -f "$MODELS/$SIZE-$precision/image.onnx" ]; then models="$models,$MODELS/$SIZE-$precision"; fi
  done
  say "bench/gpu with $NODE ($("$NODE" --version)) on $models"
  "$NODE" "$HOST/bench-gpu.mjs" --model "$models" --detector models/lookbook-detector/model.onnx \
    --providers webgpu,cpu --batches "$BATCHES" --cpu-batches "$CPU_BATCHES" --iterations "$ITER" \
    --cpu-iterations "$CPU_ITER" --jpegs "$JPEGS" --variant-batch "$VARIANT_BATCH" --variant-filter "$SIZE" \
    --profile --deadline-s "$DEADLINE" --out "$OUT/bench-gpu.json" > "$OUT/bench-gpu.md" 2> "$OUT/bench.log"
  local rc=$?
  cat "$OUT/bench-gpu.md"
  tail -n 5 "$OUT/bench.log"
  say "bench/gpu exit $rc"
  return $rc
}

case "$PHASE" in
  node)
    host_notes
    unpack_node
    export_towers time
    rc=$?
    ;;
  bench)
    run_bench
    rc=$?
    ;;
  all)
    host_notes
    export_towers time
    run_bench
    rc=$?
    ;;
  *)
    echo "usage: bench-gpu.sh node|bench|all" >&2
    exit 2
    ;;
esac
ls -la "$OUT"
say "done (exit $rc)"
exit $rc
