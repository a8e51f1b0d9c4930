"""A hand-made detector in the Ultralytics YOLO ONNX format, with outputs known in advance.

    cd training && /usr/bin/python3 -m lookbook_training.make_detector_fixture

Writes ``test/fixtures/models/yolo-handmade/model.onnx``: input ``images`` float32
``[N, 3, 64, 64]``, output ``output0`` float32 ``[N, 4 + 3, 6]`` (cx, cy, w, h in input
pixels, then one score per class; no NMS in the graph), class names in ``metadata_props``
as Ultralytics writes them (``names`` = a Python dict string). The output does not depend on
the pixels (the graph adds ``0 × mean(images)`` so the input is used), so tests know exactly
what the decoder must produce:

- anchor 0: class 0 (``shirt``) 0.90 at (32, 20) 20×16
- anchor 1: class 0 0.80 at (33, 21) 20×16 — overlaps anchor 0 (IoU ≈ 0.80): NMS drops it
- anchor 2: class 1 (``shoe``) 0.85 at (33, 21) 20×16 — same place, other class: kept (class-aware)
- anchor 3: class 2 (``bag``) 0.10 — below a 0.25 threshold
- anchor 4: class 2 0.70 at (10, 50) 12×12
- anchor 5: class 1 0.60 at (60, 60) 10×10 — partly outside the 64×64 input (clipped)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NAMES = {0: "shirt", 1: "shoe", 2: "bag"}
SIZE = 64
# rows: cx, cy, w, h, score(shirt), score(shoe), score(bag); columns: anchors
ANCHORS = [
    (32, 20, 20, 16, 0.90, 0.01, 0.02),
    (33, 21, 20, 16, 0.80, 0.05, 0.01),
    (33, 21, 20, 16, 0.03, 0.85, 0.02),
    (20, 40, 8, 8, 0.02, 0.03, 0.10),
    (10, 50, 12, 12, 0.01, 0.02, 0.70),
    (60, 60, 10, 10, 0.05, 0.60, 0.01),
]


def build() -> onnx.ModelProto:
    table = np.array(ANCHORS, dtype=np.float32).T[None]  # [1, 7, 6]
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=1),  # [N,1,1,1]
        helper.make_node("Mul", ["mean", "zero"], ["zeros"]),
        helper.make_node("Reshape", ["zeros", "shape_n11"], ["zeros_n11"]),  # [N,1,1]
        helper.make_node("Add", ["zeros_n11", "table"], ["output0"]),  # broadcast → [N,7,6]
    ]
    graph = helper.make_graph(
        nodes,
        "yolo-handmade",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 4 + len(NAMES), len(ANCHORS)])],
        initializer=[
            numpy_helper.from_array(np.zeros((1,), dtype=np.float32), "zero"),
            numpy_helper.from_array(np.array([-1, 1, 1], dtype=np.int64), "shape_n11"),
            numpy_helper.from_array(table, "table"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lookbook-handmade")
    model.ir_version = 8
    # Ultralytics writes these (ultralytics/engine/exporter.py): names as str(dict), imgsz as str(list).
    for key, value in {"names": str(NAMES), "imgsz": str([SIZE, SIZE]), "task": "detect", "stride": "32", "description": "hand-made fixture"}.items():
        entry = model.metadata_props.add()
        entry.key = key
        entry.value = value
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "test/fixtures/models/yolo-handmade")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(build(), args.out / "model.onnx")
    print(f"wrote {args.out / 'model.onnx'}")


if __name__ == "__main__":
    main()
