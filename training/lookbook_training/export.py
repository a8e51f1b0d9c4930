"""ONNX export of the towers, and the `lookbook` model directory writer.

Towers are exported with ``torch.onnx.export`` (the TorchScript exporter; ``dynamo=False``
where the installed PyTorch has that switch), opset 17, a dynamic batch axis, and checked
with ``onnx.checker`` (full check, which includes shape inference).
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import onnx
from onnx import numpy_helper
import torch
from torch import Tensor, nn

from .model import DualEncoder, ImageTower, TextTower
from .preprocess import PreprocessSpec
from .json_files import write_json

OPSET = 17
MANIFEST_NAME = "lookbook.json"
MANIFEST_FORMAT = "lookbook.dual-encoder"
MANIFEST_FORMAT_VERSION = 1


def export_onnx(
    module: nn.Module,
    args: tuple[Tensor, ...],
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
) -> onnx.ModelProto:
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = dict(
        opset_version=OPSET,
        do_constant_folding=True,
        input_names=list(input_names),
        output_names=list(output_names),
        dynamic_axes=dynamic_axes,
    )
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # PyTorch 2.x: keep the TorchScript exporter
    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        # PyTorch 1.13 says this of constants it folds; the graph is checked below.
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
        torch.onnx.export(module, args, str(path), **kwargs)
    model = _pin_static_output_dims(onnx.load(str(path)), dynamic_axes)
    onnx.save(model, str(path))
    onnx.checker.check_model(model, full_check=True)
    return model


def _pin_static_output_dims(
    model: onnx.ModelProto, dynamic_axes: dict[str, dict[int, str]]
) -> onnx.ModelProto:
    """Replaces the placeholder dim names the TorchScript exporter gives outputs it cannot
    size (e.g. ``Addlast_hidden_state_dim_2``) with the sizes ONNX's shape inference finds,
    so every output declares static sizes except the axes we made dynamic."""
    dynamic_names = {name for axes in dynamic_axes.values() for name in axes.values()}
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    for declared, found in zip(model.graph.output, inferred.graph.output):
        dims = zip(declared.type.tensor_type.shape.dim, found.type.tensor_type.shape.dim)
        for dim, found_dim in dims:
            if dim.dim_param and dim.dim_param not in dynamic_names and found_dim.dim_value > 0:
                dim.dim_value = found_dim.dim_value  # a oneof: clears dim_param
    return model


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # numpy name: float32, int64, int32
    shape: tuple[Any, ...]  # ints, or dim_param names for dynamic axes


def _np_dtype(elem_type: int) -> np.dtype:
    if hasattr(onnx.helper, "tensor_dtype_to_np_dtype"):  # onnx >= 1.13
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    return np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type])


def _tensor_infos(values: Sequence[onnx.ValueInfoProto]) -> list[TensorInfo]:
    infos = []
    for v in values:
        t = v.type.tensor_type
        dims = tuple(d.dim_param if d.dim_param else d.dim_value for d in t.shape.dim)
        dtype = _np_dtype(t.elem_type).name
        infos.append(TensorInfo(v.name, dtype, dims))
    return infos


def describe_onnx(path: Path) -> tuple[list[TensorInfo], list[TensorInfo]]:
    """(graph inputs, graph outputs) with dtypes and shapes."""
    model = onnx.load(str(path))
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    return _tensor_infos(inputs), _tensor_infos(model.graph.output)


class _ImageEmbeds(nn.Module):
    def __init__(self, tower: ImageTower, with_hidden: bool = False) -> None:
        super().__init__()
        self.tower = tower
        self.with_hidden = with_hidden

    def forward(self, pixel_values: Tensor) -> Any:
        embeds, hidden = self.tower.embed(pixel_values)
        return (embeds, hidden) if self.with_hidden else embeds


class _TextEmbeds(nn.Module):
    """``input_ids`` (any integer dtype) [+ ``attention_mask``] → embedding [+ hidden]."""

    def __init__(self, tower: TextTower, with_mask: bool = False, with_hidden: bool = False) -> None:
        super().__init__()
        self.tower = tower
        self.with_mask = with_mask
        self.with_hidden = with_hidden

    def forward(self, input_ids: Tensor, attention_mask: Optional[Tensor] = None) -> Any:
        embeds, hidden = self.tower.embed(input_ids.long(), attention_mask if self.with_mask else None)
        return (embeds, hidden) if self.with_hidden else embeds


def export_image_tower(
    tower: ImageTower,
    path: Path,
    input_name: str = "pixel_values",
    output_name: str = "image_embeds",
    hidden_output: Optional[str] = None,
) -> onnx.ModelProto:
    size = tower.cfg.image_size
    dummy = torch.zeros(2, 3, size, size)
    outputs = [output_name] + ([hidden_output] if hidden_output else [])
    axes = {input_name: {0: "batch"}, **{name: {0: "batch"} for name in outputs}}
    return export_onnx(
        _ImageEmbeds(tower, with_hidden=hidden_output is not None),
        (dummy,),
        path,
        [input_name],
        outputs,
        axes,
    )


def export_text_tower(
    tower: TextTower,
    path: Path,
    input_name: str = "input_ids",
    output_name: str = "text_embeds",
    input_dtype: torch.dtype = torch.int64,
    mask_input: Optional[str] = None,
    hidden_output: Optional[str] = None,
    dynamic_sequence: bool = False,
) -> onnx.ModelProto:
    """Exports ``[N, context_length]`` ids → ``[N, dim]``. With ``mask_input`` the graph
    also takes an int64 attention mask; with ``dynamic_sequence`` the sequence axis (at
    most ``context_length``) is dynamic too."""
    length = tower.cfg.context_length
    dummy_ids = torch.full((2, length), tower.cfg.pad_id, dtype=input_dtype)
    dummy_ids[:, 0] = 1
    args: tuple[Tensor, ...] = (dummy_ids,)
    inputs = [input_name]
    if mask_input:
        args += (torch.ones(2, length, dtype=torch.int64),)
        inputs.append(mask_input)
    outputs = [output_name] + ([hidden_output] if hidden_output else [])
    seq_axes = {1: "sequence"} if dynamic_sequence else {}
    axes = {name: {0: "batch", **seq_axes} for name in inputs}
    axes[output_name] = {0: "batch"}
    if hidden_output:
        axes[hidden_output] = {0: "batch", **seq_axes}
    return export_onnx(
        _TextEmbeds(tower, with_mask=bool(mask_input), with_hidden=bool(hidden_output)),
        args,
        path,
        inputs,
        outputs,
        axes,
    )


def lookbook_manifest(
    model: DualEncoder,
    *,
    model_id: str,
    version: str,
    description: str,
    preprocess: PreprocessSpec,
) -> dict[str, Any]:
    if preprocess.output_size != model.cfg.image.image_size:
        raise ValueError(
            f"preprocessing gives {preprocess.output_size}px, the image tower takes "
            f"{model.cfg.image.image_size}px"
        )
    return {
        "format": MANIFEST_FORMAT,
        "formatVersion": MANIFEST_FORMAT_VERSION,
        "id": model_id,
        "version": version,
        "dimension": model.cfg.dim,
        "description": description,
        "image": {"onnx": "image.onnx", "preprocess": preprocess.to_manifest()},
        "text": {
            "onnx": "text.onnx",
            "tokenizer": "tokenizer.json",
            "contextLength": model.cfg.text.context_length,
            "padTokenId": model.cfg.text.pad_id,
        },
    }


def export_lookbook_model(
    model: DualEncoder,
    tokenizer_json: dict[str, Any],
    out_dir: Path,
    *,
    model_id: str,
    version: str,
    description: str,
    preprocess: PreprocessSpec,
    write_onnx: bool = True,
) -> dict[str, Any]:
    """Writes a `lookbook` layout model directory and returns its manifest."""
    manifest = lookbook_manifest(
        model, model_id=model_id, version=version, description=description, preprocess=preprocess
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    if write_onnx:
        export_image_tower(model.image, out_dir / manifest["image"]["onnx"])
        export_text_tower(model.text, out_dir / manifest["text"]["onnx"])
    write_json(out_dir / manifest["text"]["tokenizer"], tokenizer_json)
    write_json(out_dir / MANIFEST_NAME, manifest)
    return manifest


FP16_SUFFIX = "__fp16"


def store_weights_fp16(model: onnx.ModelProto, ops: Sequence[str] = ("Conv",)) -> None:
    """Stores the float32 weights and biases of the ``ops`` nodes as float16, each followed by a
    Cast back to float32 under its old name: the file is about half as large, the graph still
    computes in float32 (ONNX Runtime folds the Casts into float32 initializers when it loads
    the session) and its inputs and outputs are unchanged. The weights become the nearest
    float16 values: evaluate the exported graph, not the run."""
    graph = model.graph
    consumed = {name for node in graph.node if node.op_type in ops for name in node.input[1:]}
    casts = []
    for init in graph.initializer:
        if init.name not in consumed or init.data_type != onnx.TensorProto.FLOAT:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + FP16_SUFFIX)
        casts.append(onnx.helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                           name=f"{init.name}{FP16_SUFFIX}_cast"))
        init.CopyFrom(half)
    for i, node in enumerate(casts):
        graph.node.insert(i, node)


def run_onnx_if_available(path: Path, feeds: dict[str, np.ndarray]) -> Optional[list[np.ndarray]]:
    """Runs the graph with onnxruntime, else ONNX's reference evaluator (onnx ≥ 1.13),
    else returns None (Debian bookworm has neither; the Node tests check parity)."""
    try:
        import onnxruntime  # type: ignore[import-not-found]

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, feeds)
    except ImportError:
        pass
    try:
        from onnx.reference import ReferenceEvaluator  # type: ignore[import-not-found]
    except ImportError:
        return None
    return ReferenceEvaluator(str(path)).run(None, feeds)
