"""A ViT-B/32-sized dual encoder with random weights, exported for the GPU benchmark, and timed
in PyTorch on the same machine.

Throughput does not depend on the weights, so the towers are the training code's own
(``model.py``) at CLIP ViT-B/32's sizes: 224 px images in 7 × 7 patches of 32 px, 12 blocks of
width 768 with 12 heads; text of 77 tokens through 12 blocks of width 512 with 8 heads; both
projected to 512 dimensions. Written as two `lookbook` model directories the service loads
(``docs/model-format.md``):

- ``<out>/vit-b32-fp32``: the towers in float32, as ``export.py`` writes every model;
- ``<out>/vit-b32-fp16``: the same weights computing in float16, the graphs' inputs and
  outputs still float32 (a Cast at each end), so the service feeds both alike. The float16
  graph is converted from the float32 one at the ONNX level (``convert_to_fp16``), which works
  the same with Debian's PyTorch 1.13 on a CPU and PyTorch 2.x on a GPU host.

    python3 -m lookbook_training.export_vit --out /tmp/vit [--size vit-b32|tiny] [--time] [--time-only]

``--time`` also times the same model in PyTorch (float32 and float16 on CUDA when there is a
GPU, else float32 on the CPU with tiny counts) and prints one JSON document; ``--json FILE``
writes it too.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch

from .export import MANIFEST_NAME, export_image_tower, export_text_tower, lookbook_manifest
from .json_files import write_json
from .model import DualEncoder, DualEncoderConfig, ImageTowerConfig, TextTowerConfig
from .preprocess import PreprocessSpec

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# CLIP ViT-B/32's sizes (the text tower's vocabulary is CLIP's 49,408; the tokenizer that comes
# with the directory uses fewer ids, which changes nothing in the cost of a run).
SIZES: dict[str, DualEncoderConfig] = {
    "vit-b32": DualEncoderConfig(
        dim=512,
        image=ImageTowerConfig(image_size=224, patch_size=32, width=768, layers=12, heads=12, activation="quick_gelu"),
        text=TextTowerConfig(vocab_size=49408, context_length=77, width=512, layers=12, heads=8, activation="quick_gelu"),
    ),
    # The same structure, small enough for a CPU smoke run and the unit tests.
    "tiny": DualEncoderConfig(
        dim=32,
        image=ImageTowerConfig(image_size=64, patch_size=32, width=32, layers=1, heads=2, activation="quick_gelu"),
        text=TextTowerConfig(vocab_size=49408, context_length=77, width=32, layers=1, heads=2, activation="quick_gelu"),
    ),
}


def build_model(size: str, seed: int = 0) -> DualEncoder:
    torch.manual_seed(seed)
    return DualEncoder(SIZES[size]).eval()


def clip_preprocess(image_size: int) -> PreprocessSpec:
    return PreprocessSpec(
        resize="shortest_edge", size=image_size, crop=image_size, resample="bicubic",
        rescale=1 / 255, mean=CLIP_MEAN, std=CLIP_STD,
    )


# ---------------------------------------------------------------------------------------------
# float32 → float16 at the ONNX level


def _half_tensor(tensor: onnx.TensorProto) -> onnx.TensorProto:
    array = numpy_helper.to_array(tensor)
    with np.errstate(over="ignore"):
        half = np.clip(array, -65504, 65504).astype(np.float16)
    return numpy_helper.from_array(half, tensor.name)


def convert_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same graph computing in float16, its float32 inputs and outputs kept: float32
    initializers and constants become float16 (clipped to ±65504, so the text tower's -1e9
    padding bias becomes -65504 rather than -inf, and 0 × bias stays 0), Casts to float32 cast
    to float16, a Cast to float16 follows each float32 input and a Cast to float32 precedes each
    float32 output. Shapes are inferred again."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(_half_tensor(init))
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(_half_tensor(attr.t))
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
    float_inputs = [i for i in graph.input if i.type.tensor_type.elem_type == TensorProto.FLOAT]
    float_outputs = [o for o in graph.output if o.type.tensor_type.elem_type == TensorProto.FLOAT]

    def rename(old: str, new: str) -> None:
        """Points every node that reads or writes tensor ``old`` at ``new``."""
        for node in graph.node:
            for names in (node.input, node.output):
                for k, name in enumerate(names):
                    if name == old:
                        names[k] = new

    head = []
    for value in float_inputs:
        inner = value.name + "_fp16"
        rename(value.name, inner)
        head.append(helper.make_node("Cast", [value.name], [inner], to=TensorProto.FLOAT16, name=inner + "_cast"))
    tail = []
    for value in float_outputs:
        inner = value.name + "_fp16"
        rename(value.name, inner)
        tail.append(helper.make_node("Cast", [inner], [value.name], to=TensorProto.FLOAT, name=value.name + "_cast"))
    nodes = head + list(graph.node) + tail
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model)
    onnx.checker.check_model(model, full_check=True)
    return model


# ---------------------------------------------------------------------------------------------
# model directories


def export_dirs(model: DualEncoder, out: Path, tokenizer_from: Path, size: str) -> dict[str, Path]:
    """Writes ``<out>/<size>-fp32`` and ``<out>/<size>-fp16`` (`lookbook` layout)."""
    tokenizer = tokenizer_from / "tokenizer.json"
    manifest_from = json.loads((tokenizer_from / MANIFEST_NAME).read_text(encoding="utf-8"))
    pad_id = int(manifest_from["text"]["padTokenId"])
    if pad_id != model.cfg.text.pad_id:
        raise ValueError(f"{tokenizer_from}: pad id {pad_id}, the text tower masks {model.cfg.text.pad_id}")
    dirs = {}
    fp32 = out / f"{size}-fp32"
    for precision in ("fp32", "fp16"):
        directory = out / f"{size}-{precision}"
        directory.mkdir(parents=True, exist_ok=True)
        manifest = lookbook_manifest(
            model,
            model_id=f"lookbook-{size}-{precision}",
            version="0.0.0-random",
            description=f"{size} towers with random weights ({precision}), for the GPU benchmark only",
            preprocess=clip_preprocess(model.cfg.image.image_size),
        )
        for tower in ("image", "text"):
            path = directory / manifest[tower]["onnx"]
            if precision == "fp32":
                if tower == "image":
                    export_image_tower(model.image, path)
                else:
                    export_text_tower(model.text, path)
            else:
                onnx.save(convert_to_fp16(onnx.load(str(fp32 / manifest[tower]["onnx"]))), str(path))
        shutil.copyfile(tokenizer, directory / manifest["text"]["tokenizer"])
        write_json(directory / MANIFEST_NAME, manifest)
        dirs[precision] = directory
    return dirs


# ---------------------------------------------------------------------------------------------
# PyTorch timing


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _time_one(run, sync, batch: int, warmup: int, iterations: int) -> dict[str, Any]:
    for _ in range(warmup):
        run()
    sync()
    # Back to back (throughput), then one run at a time (latency).
    start = time.perf_counter()
    for _ in range(iterations):
        run()
    sync()
    total = time.perf_counter() - start
    latencies = []
    for _ in range(iterations):
        t = time.perf_counter()
        run()
        sync()
        latencies.append((time.perf_counter() - t) * 1000)
    return {
        "batch": batch,
        "items_per_s": batch * iterations / total,
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "iterations": iterations,
    }


def time_pytorch(
    model: DualEncoder, batches: Sequence[int], warmup: int, iterations: int, device: Optional[str] = None
) -> dict[str, Any]:
    """Items/s and latency of each tower, per precision and batch size. On CUDA: float32 and
    float16 (``.half()``), each with inputs already on the GPU and with inputs copied from the
    host and outputs back (what an ONNX Runtime run from CPU tensors does). On a CPU: float32."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    cfg = model.cfg
    precisions = [("fp32", torch.float32), ("fp16", torch.float16)] if cuda else [("fp32", torch.float32)]
    rows = []
    for precision, dtype in precisions:
        tower_model = DualEncoder(cfg).eval()
        tower_model.load_state_dict(model.state_dict())
        tower_model = tower_model.to(device=device, dtype=dtype)
        for batch in batches:
            pixels_host = torch.randn(batch, 3, cfg.image.image_size, cfg.image.image_size)
            ids_host = torch.randint(1, 1000, (batch, cfg.text.context_length))
            if cuda:
                pixels_host, ids_host = pixels_host.pin_memory(), ids_host.pin_memory()
            pixels = pixels_host.to(device=device, dtype=dtype)
            ids = ids_host.to(device)
            cases = {
                ("image", "device"): lambda: tower_model.image(pixels),
                ("text", "device"): lambda: tower_model.text(ids),
            }
            if cuda:
                cases[("image", "host")] = lambda: tower_model.image(pixels_host.to(device, dtype, non_blocking=True)).float().cpu()
                cases[("text", "host")] = lambda: tower_model.text(ids_host.to(device, non_blocking=True)).float().cpu()
            for (tower, data), run in cases.items():
                with torch.inference_mode():
                    row = _time_one(run, sync, batch, warmup, iterations)
                rows.append({"tower": tower, "precision": precision, "inputs": data, **row})
                print(f"pytorch {device} {precision} {tower:5s} {data:6s} batch {batch:4d}: "
                      f"{row['items_per_s']:10.1f}/s p50 {row['p50_ms']:.2f} ms p99 {row['p99_ms']:.2f} ms", file=sys.stderr)
        del tower_model
        if cuda:
            torch.cuda.empty_cache()
    return {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if cuda else platform.processor() or platform.machine(),
        "cuda": torch.version.cuda if cuda else None,
        "threads": torch.get_num_threads(),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32) if cuda else None,
        "warmup": warmup,
        "rows": rows,
    }


def parameter_counts(model: DualEncoder) -> dict[str, int]:
    return {
        "image": sum(p.numel() for p in model.image.parameters()),
        "text": sum(p.numel() for p in model.text.parameters()),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for <size>-fp32 and <size>-fp16")
    parser.add_argument("--size", choices=sorted(SIZES), default="vit-b32")
    parser.add_argument("--tokenizer-from", type=Path, default=Path(__file__).resolve().parents[2] / "models" / "lookbook-emoji",
                        help="a lookbook model directory whose tokenizer.json (pad id 0) the exports use")
    parser.add_argument("--time", action="store_true", help="time the model in PyTorch")
    parser.add_argument("--batches", default="1,32,128,256")
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--json", type=Path, help="also write the JSON document here")
    args = parser.parse_args(argv)
    if args.out is None and not args.time:
        parser.error("nothing to do: give --out and/or --time")

    model = build_model(args.size)
    result: dict[str, Any] = {"size": args.size, "config": model.cfg.to_dict(), "parameters": parameter_counts(model)}
    if args.out is not None:
        t = time.perf_counter()
        dirs = export_dirs(model, args.out, args.tokenizer_from, args.size)
        result["exports"] = {
            precision: {"dir": str(d), "bytes": {f.name: f.stat().st_size for f in sorted(d.glob("*.onnx"))}}
            for precision, d in dirs.items()
        }
        result["export_seconds"] = round(time.perf_counter() - t, 1)
        print(f"exported {', '.join(str(d) for d in dirs.values())} in {result['export_seconds']} s", file=sys.stderr)
    if args.time:
        cuda = torch.cuda.is_available()
        warmup = args.warmup if args.warmup is not None else (10 if cuda else 1)
        iterations = args.iterations if args.iterations is not None else (50 if cuda else 2)
        batches = [int(b) for b in args.batches.split(",")]
        result["pytorch"] = time_pytorch(model, batches, warmup, iterations)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
