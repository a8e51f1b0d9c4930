"""Exports a detector run to ONNX in the Ultralytics YOLO format, and the model directory.

    cd training
    OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.detector.export --run runs/det-v1 \\
        --out ../models/lookbook-detector

The graph (opset 17, ``onnx.checker`` full check): input ``images`` float32
``[batch, 3, S, S]`` (RGB / 255, letterboxed with grey 114 by the caller — the service's
``src/detection/detector.ts``), output ``output0`` float32 ``[batch, 4 + C, A]``: rows cx, cy, w, h
in input pixels, then the C sigmoid class scores; columns the A = (S/8)² + (S/16)² + (S/32)²
anchor points; no NMS. ``metadata_props`` as Ultralytics writes them: ``names`` =
``str({0: 'clothing', …})`` (a Python dict literal), ``imgsz`` = ``str([S, S])``, ``task`` =
``detect``, ``stride`` = ``32``, ``batch``, ``description``, ``author``, ``license``, plus
``lookbook_version``.

Weights: stored as float16 by default (``--weights fp16``; each cast back to float32 in the
graph, which ONNX Runtime folds at load), so the file is half the size and computes as float32
with weights rounded to float16 — ``evaluate --onnx`` measures exactly that graph.

The directory (only where ``--out`` says): ``model.onnx``, ``EVAL.md`` (the run's),
``LICENSES.md`` (the dataset's: the model must carry its data's licences), ``training.json``
(recipe, data, progress, machine, evaluation summary) and ``classes.json`` (names and the
category merge table).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np
import onnx
import torch

from ..export import export_onnx, run_onnx_if_available, store_weights_fp16
from .model import STRIDES, DetectorConfig, DetectorNet, ExportModel

MODEL_ID = "lookbook-detector"
INPUT_NAME = "images"
OUTPUT_NAME = "output0"


def export_detector_onnx(net: DetectorNet, path: Path, image_size: int, version: str,
                         description: str = "Lookbook product detector", fp16_weights: bool = False) -> onnx.ModelProto:
    """Writes the Ultralytics-format graph with its metadata; returns the checked model. With
    ``fp16_weights`` the convolutions' weights are stored as float16 (``store_weights_fp16``):
    half the file, float32 computation and interface."""
    net = net.eval().cpu()
    wrapper = ExportModel(net, image_size).eval()
    dummy = torch.zeros(1, 3, image_size, image_size)
    export_onnx(wrapper, (dummy,), path, [INPUT_NAME], [OUTPUT_NAME],
                {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
    model = onnx.load(str(path))
    names = {i: n for i, n in enumerate(net.cfg.names)} if net.cfg.names else {i: f"class{i}" for i in range(net.cfg.num_classes)}
    meta = {
        "description": description,
        "author": "Lookbook",
        "license": "see LICENSES.md (the training data's licences)",
        "stride": str(max(STRIDES)),
        "task": "detect",
        "batch": "1",
        "imgsz": str([image_size, image_size]),
        "names": str(names),
        "lookbook_version": version,
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "lookbook-training"
    if fp16_weights:
        store_weights_fp16(model)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return model


def load_exported(path: Path, cfg: DetectorConfig) -> DetectorNet:
    """A DetectorNet (eval mode) computing what the exported graph at ``path`` computes: its
    weights read back (float16-stored ones as the float32 values the graph casts them to),
    BatchNorms the identity. Needs the PyTorch major.minor that exported it (warm_start.py)."""
    from ..warm_start import load_from_onnx

    net = DetectorNet(cfg)
    report = load_from_onnx(net, Path(path), lambda m, p: export_detector_onnx(m, p, cfg.image_size, "probe"),
                            lambda: DetectorNet(cfg))
    if report["missing"]:
        raise ValueError(f"{path}: no weights for {report['missing']}")
    return net.eval()


def read_metadata(path: Path) -> Dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def parse_names(text: str) -> Dict[int, str]:
    """The ``names`` metadata (a Python dict literal) back into a dict."""
    import ast

    value = ast.literal_eval(text)
    return {int(k): str(v) for k, v in value.items()}


def onnx_output(path: Path, images: np.ndarray) -> Optional[np.ndarray]:
    """The graph's output in onnxruntime (or ONNX's reference evaluator), or None when neither
    is installed (Debian bookworm; the tests then use onnxruntime-node)."""
    out = run_onnx_if_available(path, {INPUT_NAME: images})
    return None if out is None else out[0]


def export_run(run_dir: Path, out_dir: Path, version: Optional[str] = None, checkpoint: Optional[Path] = None,
               log: Callable[[str], None] = print, fp16_weights: bool = True) -> Dict[str, Any]:
    from ..dataset import EmojiDataset
    from .scenes import CATEGORY_CLASS, class_set_for
    from .train import load_detector, read_run

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    cfg, meta = read_run(run_dir)
    net, state = load_detector(run_dir, checkpoint)
    epochs = state.get("epochs") or 0
    version = version or f"1.0.0-e{int(round(epochs))}"
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = out_dir / "model.onnx"
    export_detector_onnx(net, onnx_path, cfg.image_size, version,
                         description=f"Lookbook product detector {version}: {len(net.cfg.names)} classes, "
                                     f"trained on synthetic scenes of {meta.get('data_name')}",
                         fp16_weights=fp16_weights)
    # parity with PyTorch where onnxruntime is installed (the Node tests check it otherwise)
    x = torch.rand(2, 3, cfg.image_size, cfg.image_size, generator=torch.Generator().manual_seed(0))
    reference = load_exported(onnx_path, net.cfg) if fp16_weights else net  # the weights the graph holds
    with torch.no_grad():
        expected = reference.predict(x).numpy()
        rounding = float((reference.predict(x) - net.predict(x)).abs().max())
    got = onnx_output(onnx_path, x.numpy())
    parity = None if got is None else float(np.abs(got - expected).max())
    ds = EmojiDataset(cfg.data)
    licence = next((ds.root / n for n in ("LICENSES.md", "LICENSE.md") if (ds.root / n).exists()), None)
    if licence is None:
        raise FileNotFoundError(f"no LICENSES.md in {ds.root}: the model must carry its data's licences")
    shutil.copyfile(licence, out_dir / "LICENSES.md")
    if (run_dir / "EVAL.md").exists():
        shutil.copyfile(run_dir / "EVAL.md", out_dir / "EVAL.md")
    evaluation = None
    if (run_dir / "eval.json").exists():
        ev = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
        evaluation = {style: {k: r[k] for k in ("scenes", "instances", "map50", "map50_95", "precision", "recall")}
                      for style, r in ev["results"].items()}
    classes = class_set_for(ds)
    (out_dir / "classes.json").write_text(json.dumps({
        "names": {str(i): n for i, n in enumerate(net.cfg.names)},
        "from_product_categories": {n: sorted(c for c, k in CATEGORY_CLASS.items() if k == n) for n in net.cfg.names}
        if classes.kind == "products" else None,
        "product_categories": "training/lookbook_training/dataset.py (CLDR subgroups + overrides)",
    }, indent=1) + "\n", encoding="utf-8")
    training = {
        "model": MODEL_ID,
        "version": version,
        "format": "ultralytics-yolo-onnx",
        "input": {"name": INPUT_NAME, "shape": ["batch", 3, cfg.image_size, cfg.image_size],
                  "pixels": "RGB / 255, letterboxed (pad 114)"},
        "output": {"name": OUTPUT_NAME, "shape": ["batch", 4 + net.cfg.num_classes, int(sum((cfg.image_size // s) ** 2 for s in STRIDES))],
                   "rows": "cx, cy, w, h (input pixels), then sigmoid class scores; no NMS"},
        "recipe": cfg.to_dict(),
        "run": {k: meta.get(k) for k in ("data_name", "data_fingerprint", "train_styles", "val_style", "test_style",
                                         "parameters", "preset", "pool", "distractor_images")},
        "progress": {k: state.get(k) for k in ("steps", "epochs", "scenes_seen", "train_seconds", "finished")},
        "machine": state.get("machine") or meta.get("machine"),
        "evaluation": evaluation,
        "weights": "float16 (convolutions; cast to float32 in the graph)" if fp16_weights else "float32",
        "fp16_weights_max_abs_output_change": rounding if fp16_weights else None,
        "onnxruntime_max_abs_diff": parity,
    }
    (out_dir / "training.json").write_text(json.dumps(training, indent=1) + "\n", encoding="utf-8")
    size = onnx_path.stat().st_size
    log(f"exported {MODEL_ID} {version} to {out_dir} (model.onnx {size / 1e6:.1f} MB"
        + (f", onnxruntime parity {parity:.2e}" if parity is not None else "") + ")")
    return {"onnx": str(onnx_path), "version": version, "parity": parity, "bytes": size}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Export a detector run (ONNX, Ultralytics format).")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="e.g. ../models/lookbook-detector")
    parser.add_argument("--version", help="default 1.0.0-e<epochs>")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--weights", choices=["fp16", "fp32"], default="fp16",
                        help="how the graph stores the convolution weights (fp16: half the file; it computes in float32 either way)")
    args = parser.parse_args(argv)
    export_run(args.run, args.out, args.version, args.checkpoint, fp16_weights=args.weights == "fp16")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
