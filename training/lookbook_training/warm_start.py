"""Warm start: load a dual encoder's weights back from an exported Lookbook model directory.

A run directory (optimizer state, checkpoints) is scratch space that does not outlive the
machine it ran on; the committed model directory does. To continue training a committed
model (a longer schedule, a warm restart), its weights are read back from `image.onnx` and
`text.onnx`.

The exporter renames and reshapes what it folds: a Linear applied to a sequence becomes a
MatMul on a transposed copy of the weight, and each stem BatchNorm is folded into its
convolution (weight scaled, bias added). Rather than guess names, the mapping is learnt:
a model of the same configuration, filled with distinct random values and BatchNorms set to
an exact identity, is exported with the same code; every initializer of that export equals
exactly one parameter (or its transpose), which names the same initializer in the committed
graph. Then the folded BatchNorms are set so that eval mode reproduces the folded graph
exactly and train mode (batch statistics) starts close to it (`calibrate_batchnorm`).

What the graphs do not hold: the loss's learnt temperatures and the optimizer state.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import Tensor, nn

from .export import export_image_tower, export_text_tower
from .model import DualEncoder

_BN_EPS_FREE_VAR = 1.0  # running_var + eps == 1 after the adjustment below


def _read_graph(path: Path) -> tuple[dict[str, np.ndarray], str]:
    """A graph's initializers by name, and who wrote it ("pytorch 1.13.0"), as the graph
    computes with them: a float16 initializer cast back to float32 (``export.store_weights_fp16``)
    counts as the float32 initializer of the Cast's output, and an Identity of an initializer
    (the exporter's way of sharing two equal ones) as an initializer of its output's name."""
    model = onnx.load(str(path))
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:  # in graph order: an Identity may read a Cast's output
        if len(node.input) != 1 or node.input[0] not in initializers:
            continue
        value = initializers[node.input[0]]
        if node.op_type == "Identity":
            initializers[node.output[0]] = value
        elif node.op_type == "Cast" and value.dtype == np.float16 \
                and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in node.attribute):
            initializers[node.output[0]] = value.astype(np.float32)
    return initializers, f"{model.producer_name} {model.producer_version}".strip()


def _initializers(path: Path) -> dict[str, np.ndarray]:
    return _read_graph(path)[0]


def _fill_distinct(module: nn.Module, gen: torch.Generator) -> None:
    """Every parameter random and distinct (so each initializer names one), BatchNorms an
    exact identity scale (so a folded convolution keeps its weight and takes beta as bias)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5 + 0.01)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.running_mean.zero_()
                m.running_var.fill_(_BN_EPS_FREE_VAR - m.eps)


def _match(init: np.ndarray, params: dict[str, np.ndarray]) -> list[tuple[str, bool]]:
    """Parameters equal to `init` (as is, or transposed for 2-D weights)."""
    found = []
    for name, value in params.items():
        if value.shape == init.shape and np.allclose(value, init, rtol=1e-5, atol=1e-6):
            found.append((name, False))
        elif value.ndim == 2 and value.T.shape == init.shape and np.allclose(value.T, init, rtol=1e-5, atol=1e-6):
            found.append((name, True))
    return found


def _mapping(probe: nn.Module, exported: dict[str, np.ndarray],
             committed: dict[str, np.ndarray]) -> dict[str, tuple[str, bool]]:
    """ONNX initializer name → (parameter name in `probe`, transposed), from `exported`, the
    initializers of `probe`'s own graph.

    Initializers equal to no parameter must be constants of the architecture (anchor grids,
    shapes): they are accepted when the committed graph holds the same values under that name.
    """
    params = {n: p.detach().cpu().numpy() for n, p in probe.named_parameters()}
    mapping: dict[str, tuple[str, bool]] = {}
    for name, value in exported.items():
        if value.size <= 1 or not np.issubdtype(value.dtype, np.floating):
            continue  # shape constants, scalars
        found = _match(value, params)
        if not found and name in committed and committed[name].shape == value.shape \
                and np.array_equal(committed[name], value):
            continue  # a constant of the architecture, the same in both graphs
        if len(found) != 1:
            raise ValueError(f"initializer {name} {value.shape} matches {len(found)} parameters: {found}")
        mapping[name] = found[0]
    return mapping


def load_from_onnx(module: nn.Module, onnx_path: Path, export_fn: Callable[[nn.Module, Path], Any],
                   make_probe: Callable[[], nn.Module], seed: int = 0) -> dict[str, list[str]]:
    """Loads the weights of the graph `onnx_path`, written by `export_fn` from a module like
    `module`, into `module`. `make_probe` builds another module of the same configuration.

    Returns the parameters loaded and those the graph does not hold (left as they were)."""
    probe = make_probe()
    _fill_distinct(probe, torch.Generator().manual_seed(seed))
    values, producer = _read_graph(Path(onnx_path))
    with tempfile.TemporaryDirectory(prefix="lookbook-warm-") as tmp:
        export_fn(probe, Path(tmp) / "probe.onnx")
        exported, probe_producer = _read_graph(Path(tmp) / "probe.onnx")
    # Initializer names are the exporter's own (e.g. "onnx::Conv_123") and are how the probe
    # finds each weight; another PyTorch version names them differently, which can fail, or
    # worse, line up shapes by chance. So the exporter must be the one that wrote the graph —
    # checked before any matching, whose errors would not say why.
    if _major_minor(producer) != _major_minor(probe_producer):
        raise ValueError(f"{onnx_path} was exported by {producer}, this PyTorch exports as {probe_producer}: "
                         f"a warm start needs the PyTorch version (major.minor) that exported the graph; "
                         f"or --resume the run from its checkpoint.pt")
    return _load_mapped(module, onnx_path, _mapping(probe, exported, values), values)


def _major_minor(producer: str) -> str:
    name, _, version = producer.rpartition(" ")
    return f"{name} {'.'.join(version.split('.')[:2])}"


def _load_mapped(module: nn.Module, onnx_path: Path, mapping: dict[str, tuple[str, bool]],
                 values: dict[str, np.ndarray]) -> dict[str, list[str]]:
    own = dict(module.named_parameters())
    covered = set()
    with torch.no_grad():
        for init_name, (param_name, transposed) in mapping.items():
            if init_name not in values:
                raise ValueError(f"{onnx_path} lacks initializer {init_name}: not the same architecture")
            value = torch.from_numpy(values[init_name].copy())
            if transposed:
                value = value.T
            target = own[param_name]
            if value.shape != target.shape:
                raise ValueError(f"{param_name}: {tuple(value.shape)} in {onnx_path}, {tuple(target.shape)} here")
            target.copy_(value)
            covered.add(param_name)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                # The graph's conv bias was mapped onto m.bias (beta); this makes eval mode the
                # identity scale, exactly as the probe was exported.
                m.weight.fill_(1.0)
                m.running_mean.zero_()
                m.running_var.fill_(_BN_EPS_FREE_VAR - m.eps)
                covered.add(next(n for n, p in own.items() if p is m.weight))
    # Frozen parameters (e.g. a DFL projection) are constants of the architecture.
    return {"loaded": sorted(covered), "missing": sorted(n for n in set(own) - covered if own[n].requires_grad)}


def load_from_model_dir(model: DualEncoder, model_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Loads the weights of the exported dual encoder in `model_dir` into `model` (same
    configuration). Returns a report: parameters loaded and those the graphs do not hold."""
    model_dir = Path(model_dir)
    report: dict[str, Any] = {"loaded": [], "missing": []}
    for label, export_fn, onnx_name in (("image", export_image_tower, "image.onnx"),
                                        ("text", export_text_tower, "text.onnx")):
        tower = getattr(model, label)
        r = load_from_onnx(tower, model_dir / onnx_name, export_fn,
                           lambda: getattr(DualEncoder(model.cfg), label), seed)
        report["loaded"] += [f"{label}.{n}" for n in r["loaded"]]
        report["missing"] += [f"{label}.{n}" for n in r["missing"]]
    return report


def warm_start_source(model_dir: Path) -> dict[str, Any]:
    """What the starting model's ``training.json`` says of its own training, to carry into the
    new run's record (its lineage: epochs and time add up)."""
    path = Path(model_dir) / "training.json"
    if not path.exists():
        return {}
    t = json.loads(path.read_text(encoding="utf-8"))
    keep = ("model_id", "version", "epochs", "total_epochs", "train_seconds", "total_train_seconds",
            "images_seen", "machine", "device", "lineage")
    return {k: t[k] for k in keep if k in t}


@torch.no_grad()
def calibrate_batchnorm(tower: nn.Module, pixel_values: Tensor) -> None:
    """Re-expresses each BatchNorm (eval-exact already) so that train mode matches it too.

    With running statistics (m, s²) measured on `pixel_values`, gamma = s and
    beta = beta + m give the same eval-mode function, and batch statistics close to (m, s²)
    make train mode the same function as well, so the first steps do not undo the model.
    """
    was_training = tower.training
    tower.eval()

    def calibrate(bn: nn.BatchNorm2d, inputs: tuple[Tensor, ...]) -> None:
        # Each re-expression keeps the function, so every later BatchNorm sees the same input
        # as before it: one forward pass, each measured just before it runs.
        x = inputs[0]
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        # Before: y = x + beta (gamma 1, running mean 0, running var + eps 1).
        # After:  y = (x - mean) / std * std + (beta + mean) — the same function.
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.add_(mean)

    handles = [m.register_forward_pre_hook(calibrate) for m in tower.modules() if isinstance(m, nn.BatchNorm2d)]
    try:
        tower(pixel_values)
    finally:
        for handle in handles:
            handle.remove()
    tower.train(was_training)
