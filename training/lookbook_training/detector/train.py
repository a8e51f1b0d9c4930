"""Trains the detector on synthetic scenes generated on the fly, resumably.

    cd training
    # CI smoke: synthetic shapes dataset, 20 steps at 128 px, evaluation, ONNX export (< 60 s)
    OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.detector.train --smoke
    # a run: stops after --max-minutes with a checkpoint; --resume continues exactly
    /usr/bin/python3 -m lookbook_training.detector.train --name det-v1 --epochs 60 --max-minutes 55
    /usr/bin/python3 -m lookbook_training.detector.train --name det-v1 --resume --max-minutes 55
    # on a GPU with a fixed time budget: the LR schedule runs on training time
    python3 -m lookbook_training.detector.train --name det-gpu --budget-minutes 6 --epochs 400 \\
        --batch-size 128 --amp --workers 14

Scene ``i`` of the run is ``SceneGenerator(seed, stream 0).scene(i)``; step ``s`` trains on
scenes ``s·B … s·B + B − 1`` — so a step's data depends only on (seed, step), and a resumed run
continues exactly as an uninterrupted one (on the CPU; GPU kernels are not bit-deterministic).
With data echoing (``--echo N``, for GPU runs whose scene workers fall behind) batch ``b`` holds
those scenes instead, and a batch may serve up to N steps, mirrored at random; which steps echo
depends on timing.
An epoch is ``scenes_per_epoch`` scenes (8,000): a unit of schedule, not a pass over fixed data.
Scenes are generated in DataLoader worker processes (``--workers``; 0 on a CPU-only machine).

Run directory (``training/runs/<name>/``): ``config.json``, ``run.json``, ``checkpoint.pt``
(model, EMA, AdamW, step, training seconds, RNG; written atomically every 10 minutes, after
each validation eval, at ``--max-minutes``, on SIGTERM / SIGINT and at the end), ``model.pt``
(EMA weights, when finished), ``log.jsonl``, ``eval.json``, ``EVAL.md``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import queue
import random
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..dataset import EmojiDataset
from ..runs import (TRAINING_ROOT, config_from_dict, end_run, load_torch, machine_description, schedule_done,
                    stop_signals, warmup_cosine_lr)
from .loss import DetectionLoss
from .model import DetectorConfig, DetectorNet, count_parameters
from .scenes import (
    STREAM_TRAIN,
    STREAM_VAL,
    SceneConfig,
    SceneGenerator,
    SourcePool,
    class_set_for,
    eval_generator,
)

RUNS_ROOT = TRAINING_ROOT / "runs"
DEFAULT_DATA = TRAINING_ROOT / "data" / "emoji-v1"


def say(message: str) -> None:
    print(message, flush=True)


@dataclass
class DetTrainConfig:
    data: str = str(DEFAULT_DATA)
    preset: str = "n"
    image_size: int = 256
    epochs: float = 60.0
    scenes_per_epoch: int = 8000
    batch_size: int = 64
    max_steps: Optional[int] = None  # overrides epochs
    budget_minutes: Optional[float] = None  # schedule on training time: cosine over this many minutes
    lr: float = 1e-3
    min_lr_ratio: float = 0.02
    warmup_epochs: float = 1.0
    weight_decay: float = 5e-4
    adam_betas: Tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 10.0
    ema_decay: float = 0.9999
    ema_tau: float = 1000.0  # EMA warmup (steps): decay · (1 − exp(−updates / tau))
    seed: int = 0
    amp: bool = False  # bf16 autocast (CUDA)
    channels_last: bool = False
    scene: SceneConfig = field(default_factory=lambda: SceneConfig(photometric=True))
    eval_every_epochs: float = 10.0  # quick validation-style mAP; 0: never
    eval_scenes: int = 200
    checkpoint_minutes: float = 10.0
    log_every_steps: int = 20
    init_from: Optional[str] = None  # warm start: an exported detector (model.onnx) of the same classes and size
    echo: int = 1  # data echoing: a batch may serve up to this many steps while the next is not ready

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: Dict[str, Any]) -> "DetTrainConfig":
        return config_from_dict(DetTrainConfig, data, {"scene": SceneConfig})

    @property
    def steps_per_epoch(self) -> float:
        return self.scenes_per_epoch / self.batch_size

    @property
    def total_steps(self) -> int:
        if self.max_steps is not None:
            return int(self.max_steps)
        return int(math.ceil(self.epochs * self.scenes_per_epoch / self.batch_size))


def data_fingerprint(ds: EmojiDataset) -> str:
    h = hashlib.sha256((ds.root / "concepts.json").read_bytes())
    for name in sorted(ds.styles):
        h.update(name.encode())
        h.update((ds.root / "styles" / f"{name}.keys.json").read_bytes())
        h.update(str(ds.styles[name][0].shape).encode())
    return h.hexdigest()[:16]


def lr_at(cfg: DetTrainConfig, step: int, total: int, train_seconds: float) -> float:
    """Warmup over ``warmup_epochs``, then cosine over the steps or ``budget_minutes`` (runs.py)."""
    return warmup_cosine_lr(cfg.lr, cfg.min_lr_ratio, int(round(cfg.warmup_epochs * cfg.steps_per_epoch)),
                            step, total, train_seconds, cfg.budget_minutes)


def param_groups(net: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
    decay, no_decay = [], []
    for p in net.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class ModelEMA:
    """Exponential moving average of the weights and BatchNorm statistics (YOLOv8's ModelEMA)."""

    def __init__(self, net: nn.Module, decay: float, tau: float, updates: int = 0):
        self.ema = copy.deepcopy(net).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, updates

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        msd = net.state_dict()
        for k, v in self.ema.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(msd[k].detach(), alpha=1 - d)
            else:
                v.copy_(msd[k])


# ---------------------------------------------------------------------------------------------
# Data


class TrainScenes(torch.utils.data.Dataset):
    def __init__(self, gen: SceneGenerator):
        self.gen = gen

    def __len__(self) -> int:
        return 2 ** 62

    def __getitem__(self, index: int):
        sc = self.gen.scene(int(index))
        return sc.image, sc.boxes, sc.classes


class StepBatches(torch.utils.data.Sampler):
    """Step s → scene indices s·B … s·B + B − 1, for steps ``start`` … ``stop − 1``."""

    def __init__(self, start: int, stop: int, batch_size: int):
        self.start, self.stop, self.batch_size = start, stop, batch_size

    def __iter__(self) -> Iterator[List[int]]:
        for s in range(self.start, self.stop):
            yield list(range(s * self.batch_size, (s + 1) * self.batch_size))

    def __len__(self) -> int:
        return max(self.stop - self.start, 0)


class EchoBatches:
    """Data echoing (Choi et al. 2019, "Faster Neural Network Training with Data Echoing"): a
    thread pulls batches from ``loader``; when the next one is not ready, the last one serves
    another step (at most ``echo`` steps in all), so the GPU does not wait on the scene
    workers. Yields ``(batch, echoed)``; an echo is mirrored at random by the trainer. Which
    steps echo depends on timing: a run with echo > 1 is not reproducible step for step."""

    _END = object()

    def __init__(self, loader: Iterable, echo: int):
        self.loader, self.echo = loader, max(1, int(echo))
        self.fresh = 0  # batches taken from the loader
        self._queue: "queue.Queue[Any]" = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pull, name="echo-batches", daemon=True)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _pull(self) -> None:
        try:
            for batch in self.loader:
                if not self._put(batch):
                    return
            self._put(self._END)
        except BaseException as e:  # handed to the training loop, which raises it
            self._put(e)

    def __iter__(self) -> Iterator[Tuple[Any, bool]]:
        self._thread.start()
        current, uses = None, 0
        try:
            while True:
                item = None
                if current is None or uses >= self.echo:
                    item = self._queue.get()
                else:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        pass
                if item is self._END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if item is not None:
                    current, uses = item, 0
                    self.fresh += 1
                yield current, uses > 0
                uses += 1
        finally:
            self._stop.set()
            self._thread.join(timeout=30)


def mirror_batch(images: torch.Tensor, boxes: torch.Tensor, p: float = 0.5) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mirrors each scene of a batch (images [B, S, W, 3], boxes [B, M, 4] xyxy in pixels) with
    probability ``p``: an echoed batch is not the same data twice."""
    flip = torch.rand(images.shape[0], device=images.device) < p
    width = images.shape[2]
    mirrored = torch.stack((width - boxes[..., 2], boxes[..., 1], width - boxes[..., 0], boxes[..., 3]), -1)
    return (torch.where(flip[:, None, None, None], images.flip(2), images),
            torch.where(flip[:, None, None], mirrored, boxes))


def collate(items) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """→ images uint8 [B, S, S, 3], labels long [B, M], boxes float [B, M, 4], mask bool [B, M]."""
    images = torch.from_numpy(np.stack([it[0] for it in items]))
    m = max(1, max(len(it[2]) for it in items))
    b = len(items)
    labels = torch.zeros(b, m, dtype=torch.long)
    boxes = torch.zeros(b, m, 4, dtype=torch.float32)
    mask = torch.zeros(b, m, dtype=torch.bool)
    for i, (_, bx, cl) in enumerate(items):
        n = len(cl)
        if n:
            labels[i, :n] = torch.from_numpy(cl)
            boxes[i, :n] = torch.from_numpy(bx)
            mask[i, :n] = True
    return images, labels, boxes, mask


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# Run files


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _rng_states() -> Dict[str, Any]:
    states: Dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: Dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def read_run(run_dir: Path) -> Tuple[DetTrainConfig, Dict[str, Any]]:
    run_dir = Path(run_dir)
    cfg = DetTrainConfig.from_dict(json.loads((run_dir / "config.json").read_text(encoding="utf-8")))
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    return cfg, meta


def load_detector(run_dir: Path, checkpoint: Optional[Path] = None, ema: bool = True) -> Tuple[DetectorNet, Dict[str, Any]]:
    """The run's ``model.pt`` (else ``checkpoint.pt``, or the given file) as a DetectorNet in
    eval mode with the EMA weights (``ema=False``: the raw weights, checkpoints only)."""
    run_dir = Path(run_dir)
    if checkpoint is None:
        checkpoint = run_dir / "model.pt"
        if not checkpoint.exists():
            checkpoint = run_dir / "checkpoint.pt"
    state = load_torch(checkpoint)
    net = DetectorNet(DetectorConfig.from_dict(state["model_config"]))
    net.load_state_dict(state["ema"] if ema and "ema" in state else state["model"])
    meta = {k: v for k, v in state.items() if k in ("steps", "epochs", "scenes_seen", "train_seconds",
                                                    "finished", "machine", "data_fingerprint")}
    meta["file"] = str(checkpoint)
    return net.eval(), meta


# ---------------------------------------------------------------------------------------------
# Trainer


class Trainer:
    def __init__(self, cfg: DetTrainConfig, run_dir: Path, resume: bool = False,
                 device: Optional[torch.device] = None, workers: Optional[int] = None,
                 log: Callable[[str], None] = say, resume_overrides: Optional[Dict[str, Any]] = None):
        self.run_dir = Path(run_dir)
        self.log_fn = log
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ckpt_path = self.run_dir / "checkpoint.pt"
        state = None
        if resume:
            if not ckpt_path.exists():
                raise FileNotFoundError(f"--resume: no {ckpt_path}")
            cfg = replace(read_run(self.run_dir)[0], **(resume_overrides or {}))
            state = load_torch(ckpt_path)
        elif ckpt_path.exists():
            raise FileExistsError(f"{ckpt_path} exists: pass --resume, or use another --name")
        self.cfg = cfg
        if workers is None:
            workers = min(12, max((os.cpu_count() or 1) - 2, 1)) if self.device.type == "cuda" else 0
        self.workers = workers
        self.ds = EmojiDataset(cfg.data)
        self.classes = class_set_for(self.ds)
        self.fingerprint = data_fingerprint(self.ds)
        if state is not None and state["data_fingerprint"] != self.fingerprint:
            raise ValueError(f"--resume: the dataset changed (fingerprint {self.fingerprint}, "
                             f"checkpoint {state['data_fingerprint']})")
        scene_cfg = replace(cfg.scene, size=cfg.image_size)
        self.pool = SourcePool(self.ds, self.ds.train_styles, self.classes)
        self.gen = SceneGenerator(self.pool, scene_cfg, seed=cfg.seed, stream=STREAM_TRAIN)
        torch.manual_seed(cfg.seed)
        self.net = DetectorNet(DetectorConfig.preset(cfg.preset, num_classes=len(self.classes.names),
                                                     names=self.classes.names, image_size=cfg.image_size))
        init_report = self._warm_start(Path(cfg.init_from)) if cfg.init_from and state is None else None
        self.net.to(self.device)
        if cfg.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.criterion = DetectionLoss(len(self.classes.names), self.net.cfg.reg_max)
        self.optimizer = torch.optim.AdamW(param_groups(self.net, cfg.weight_decay), lr=cfg.lr, betas=cfg.adam_betas)
        self.total = cfg.total_steps
        self.ema = ModelEMA(self.net, cfg.ema_decay, cfg.ema_tau)
        self.step, self.train_seconds, self.scenes_seen = 0, 0.0, 0
        self.batches = 0  # batches of new scenes trained on (= step without data echoing)
        if state is not None:
            self.net.load_state_dict(state["model"])
            self.ema.ema.load_state_dict(state["ema"])
            self.ema.updates = state["ema_updates"]
            self.optimizer.load_state_dict(state["optimizer"])
            self.step, self.train_seconds, self.scenes_seen = state["step"], state["train_seconds"], state["scenes_seen"]
            self.batches = state.get("batches", self.step)
            _set_rng_states(state["rng"])
        self.meta = {
            "data": cfg.data,
            "data_name": self.ds.manifest.get("name"),
            "data_fingerprint": self.fingerprint,
            "train_styles": self.ds.train_styles,
            "val_style": self.ds.val_style,
            "test_style": self.ds.test_style,
            "names": list(self.classes.names),
            "pool": self.pool.counts(),
            "distractor_images": int(len(self.pool.distractors)),
            "preset": cfg.preset,
            "image_size": cfg.image_size,
            "batch_size": cfg.batch_size,
            "echo": cfg.echo,
            "scenes_per_epoch": cfg.scenes_per_epoch,
            "parameters": count_parameters(self.net),
            "model_config": self.net.cfg.to_dict(),
            "machine": machine_description(),
        }
        if init_report:
            self.meta["init_from"] = init_report
        elif resume and (self.run_dir / "run.json").exists():
            previous = json.loads((self.run_dir / "run.json").read_text(encoding="utf-8"))
            if previous.get("init_from"):
                self.meta["init_from"] = previous["init_from"]
        if not resume:
            _write_json(self.run_dir / "config.json", cfg.to_dict())
        _write_json(self.run_dir / "run.json", self.meta)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.stop_reason: Optional[str] = None
        self._val_gen = None

    def _warm_start(self, onnx_path: Path) -> Dict[str, Any]:
        """Starts from an exported detector's weights (read back from its graph, see
        warm_start.py): its class names and input size must be this run's."""
        from ..warm_start import calibrate_batchnorm, load_from_onnx
        from .export import export_detector_onnx, parse_names, read_metadata

        meta = read_metadata(onnx_path)
        names = [n for _, n in sorted(parse_names(meta.get("names", "{}")).items())]
        if names != list(self.classes.names):
            raise ValueError(f"--init-from {onnx_path}: classes {names}, this run has {list(self.classes.names)}")
        if meta.get("imgsz") != str([self.cfg.image_size, self.cfg.image_size]):
            raise ValueError(f"--init-from {onnx_path}: input {meta.get('imgsz')}, this run has {self.cfg.image_size}")
        size = self.cfg.image_size
        report = load_from_onnx(
            self.net, onnx_path, lambda m, p: export_detector_onnx(m, p, size, "probe"),
            lambda: DetectorNet(self.net.cfg))
        if report["missing"]:
            raise ValueError(f"--init-from {onnx_path}: no weights for {report['missing']}")
        # BatchNorms (folded into the convolutions by the export) calibrated on scenes the run
        # never trains on (its own step-0 scenes are its data).
        items = [TrainScenes(SceneGenerator(self.pool, self.gen.cfg, seed=self.cfg.seed + 7919, stream=STREAM_TRAIN))[i]
                 for i in range(max(self.cfg.batch_size, 16))]
        images = collate(items)[0]
        calibrate_batchnorm(self.net, images.permute(0, 3, 1, 2).float().div_(255.0))
        version = meta.get("lookbook_version")
        self.log({"event": "warm_start", "from": str(onnx_path), "version": version,
                  "parameters": len(report["loaded"])},
                 f"warm start from {onnx_path} ({version}): {len(report['loaded'])} parameters")
        source = onnx_path.parent / "training.json"
        prior = json.loads(source.read_text(encoding="utf-8")) if source.exists() else {}
        return {"path": str(onnx_path.resolve()), "version": version,
                "source": {k: prior.get(k) for k in ("version", "progress", "machine") if k in prior}}

    # ------------------------------------------------------------------------------------

    def log(self, record: Dict[str, Any], text: Optional[str] = None) -> None:
        record = {"time": round(time.time(), 3), **record}
        with (self.run_dir / "log.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if text:
            self.log_fn(text)

    def loader(self, stop: int) -> torch.utils.data.DataLoader:
        """Batches of new scenes for the steps up to ``stop``: batch b holds scenes b·B … b·B + B − 1."""
        kw: Dict[str, Any] = {}
        if self.workers > 0:
            kw = {"num_workers": self.workers, "worker_init_fn": _worker_init, "prefetch_factor": 4,
                  "persistent_workers": False}
        return torch.utils.data.DataLoader(
            TrainScenes(self.gen), batch_sampler=StepBatches(self.batches, self.batches + stop - self.step,
                                                             self.cfg.batch_size),
            collate_fn=collate, pin_memory=self.device.type == "cuda", **kw)

    def batches_for(self, stop: int) -> Iterator[Tuple[Any, bool]]:
        """(batch, echoed) for the steps up to ``stop``: each batch once, or with data echoing."""
        if self.cfg.echo <= 1:
            for batch in self.loader(stop):
                yield batch, False
            return
        yield from EchoBatches(self.loader(stop), self.cfg.echo)

    def train_step(self, batch, echoed: bool = False) -> Dict[str, torch.Tensor]:
        cfg = self.cfg
        images, labels, boxes, mask = (t.to(self.device, non_blocking=True) for t in batch)
        if echoed:
            images, boxes = mirror_batch(images, boxes)
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        lr = lr_at(cfg, self.step, self.total, self.train_seconds)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.net.train()
        amp = cfg.amp and self.device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext():
            feats = self.net(x)
        loss, parts = self.criterion(self.net, feats, labels, boxes, mask)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            parts["grad_norm"] = nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.ema.update(self.net)
        self.step += 1
        if not echoed:
            self.batches += 1
            self.scenes_seen += images.shape[0]
        parts["lr"] = torch.tensor(lr)
        return parts

    def checkpoint(self, reason: str) -> None:
        state = {
            "model_config": self.net.cfg.to_dict(),
            "model": self.net.state_dict(),
            "ema": self.ema.ema.state_dict(),
            "ema_updates": self.ema.updates,
            "optimizer": self.optimizer.state_dict(),
            **self._progress(),
            "data_fingerprint": self.fingerprint,
            "machine": self.meta["machine"],
            "rng": _rng_states(),
        }
        _atomic_save(state, self.run_dir / "checkpoint.pt")
        self.log({"event": "checkpoint", "reason": reason, "step": self.step})

    def _progress(self) -> Dict[str, Any]:
        return {"step": self.step, "steps": self.step, "batches": self.batches, "total_steps": self.total,
                "epochs": self.step * self.cfg.batch_size / self.cfg.scenes_per_epoch,
                "train_seconds": self.train_seconds, "scenes_seen": self.scenes_seen, "finished": self._done()}

    def _done(self) -> bool:
        return schedule_done(self.step, self.total, self.train_seconds, self.cfg.budget_minutes)

    def save_model(self) -> None:
        _atomic_save({"model_config": self.net.cfg.to_dict(), "ema": self.ema.ema.state_dict(),
                      **self._progress(), "data_fingerprint": self.fingerprint, "machine": self.meta["machine"]},
                     self.run_dir / "model.pt")

    def quick_eval(self) -> Dict[str, Any]:
        from .evaluate import evaluate_model

        if self._val_gen is None:
            style = self.ds.val_style or self.ds.test_style
            self._val_gen = {style: eval_generator(self.ds, style, self.cfg.image_size, self.classes, STREAM_VAL)}
        res = evaluate_model(self.ema.ema, self._val_gen, self.cfg.eval_scenes, self.device, log=lambda _: None)
        (style, r), = res.items()
        summary = {"style": style, "scenes": r["scenes"], "map50": r["map50"], "map50_95": r["map50_95"],
                   "precision": r["precision"], "recall": r["recall"], "seconds": r["seconds"]}
        self.log({"event": "eval", "step": self.step, **summary},
                 f"eval @ step {self.step} ({style}, {r['scenes']} scenes): mAP50 {r['map50']} "
                 f"mAP50-95 {r['map50_95']} P {r['precision']} R {r['recall']} [{r['seconds']} s]")
        return summary

    def run(self, max_minutes: Optional[float] = None, max_steps_now: Optional[int] = None) -> bool:
        """Trains until the schedule ends, ``max_minutes``, ``max_steps_now`` more steps, or
        SIGTERM / SIGINT; checkpoints in every case. True when the schedule is done."""
        cfg = self.cfg
        start = last_ckpt = time.time()
        first = self.step
        spe = cfg.steps_per_epoch
        eval_every = int(round(cfg.eval_every_epochs * spe)) if cfg.eval_every_epochs > 0 else 0
        self.log({"event": "start", "step": self.step, "total_steps": self.total, "device": str(self.device),
                  "threads": torch.get_num_threads(), "workers": self.workers},
                 f"training {self.run_dir.name}: step {self.step}/{self.total} (batch {cfg.batch_size}, "
                 f"{spe:.1f} steps/epoch{', budget %.1f min' % cfg.budget_minutes if cfg.budget_minutes else ''}), "
                 f"{self.meta['parameters'] / 1e6:.2f} M parameters, device {self.device}, "
                 f"{torch.get_num_threads()} threads, {self.workers} data workers")
        window = (time.time(), self.step)
        stop_at = self.total if max_steps_now is None else min(self.total, self.step + max_steps_now)
        t_prev = time.time()
        with stop_signals() as stop:
            for batch, echoed in self.batches_for(stop_at):
                parts = self.train_step(batch, echoed)
                now = time.time()
                self.train_seconds += now - t_prev  # data waits included: the real cost of a step
                t_prev = now
                if self.step % cfg.log_every_steps == 0 or self.step == first + 1 or self._done():
                    vals = {k: round(float(v), 5) for k, v in parts.items()}
                    dt = max(now - window[0], 1e-9)
                    sps = (self.step - window[1]) / dt
                    window = (now, self.step)
                    if cfg.budget_minutes is not None:
                        eta = 60 * cfg.budget_minutes - self.train_seconds
                    else:
                        eta = (self.total - self.step) / sps if sps > 0 else float("nan")
                    self.log({"step": self.step, "epoch": round(self.step / spe, 3), "batches": self.batches, **vals,
                              "scenes_per_s": round(sps * cfg.batch_size, 1), "elapsed": round(self.train_seconds, 1),
                              "eta_s": round(eta)},
                             f"step {self.step}/{self.total} ep {self.step / spe:.2f} loss {vals['loss']:.3f} "
                             f"(box {vals['box']:.3f} cls {vals['cls']:.3f} dfl {vals['dfl']:.3f}, "
                             f"{vals['positives']:.0f} pos) lr {vals['lr']:.2e} {sps * cfg.batch_size:.0f} scenes/s "
                             + (f"(echo {self.step / max(self.batches, 1):.2f}) " if cfg.echo > 1 else "") +
                             f"ETA {eta / 60:.1f} min")
                if self._done() or self.step >= stop_at:
                    break
                if eval_every and self.step % eval_every == 0:
                    self.quick_eval()
                    self.checkpoint("eval")
                    last_ckpt = t_prev = time.time()
                if stop["signal"] is not None:
                    self.stop_reason = f"signal {stop['signal']}"
                    break
                if max_minutes is not None and time.time() - start >= 60 * max_minutes:
                    self.stop_reason = f"--max-minutes {max_minutes}"
                    break
                if time.time() - last_ckpt >= 60 * cfg.checkpoint_minutes:
                    self.checkpoint("periodic")
                    last_ckpt = t_prev = time.time()
        if not self._done() and self.stop_reason is None:
            self.stop_reason = "max_steps_now"
        return end_run(self, self._done(),
                       f"finished: {self.step} steps, {self.scenes_seen:,} scenes, "
                       f"{self.train_seconds / 60:.1f} min of training")


# ---------------------------------------------------------------------------------------------
# Smoke run


def smoke_config(data_dir: Path) -> DetTrainConfig:
    return DetTrainConfig(
        data=str(data_dir), preset="tiny", image_size=128, batch_size=8, max_steps=20, scenes_per_epoch=80,
        lr=2e-3, warmup_epochs=0.2, ema_tau=5.0, eval_every_epochs=0, log_every_steps=5,
    )


def make_smoke_dataset(root: Path) -> Path:
    """``synthetic_data``'s coloured shapes, with the manifest ``EmojiDataset`` reads
    (format_version 1, roles, styles by name)."""
    from ..synthetic_data import make_synthetic_dataset

    root = Path(root)
    make_synthetic_dataset(root)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    styles = {s["name"]: {k: v for k, v in s.items() if k != "name"} for s in manifest["styles"]}
    roles = {"test": next(n for n, s in styles.items() if s["role"] == "test"),
             "val": next(n for n, s in styles.items() if s["role"] == "val"),
             "train": [n for n, s in styles.items() if s["role"] == "train"]}
    manifest.update({"format_version": 1, "roles": roles, "styles": styles})
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return root


def run_smoke(out: Path, log: Callable[[str], None] = say, eval_count: int = 16,
              device: Optional[torch.device] = None, workers: int = 0) -> Dict[str, Any]:
    """Synthetic shapes dataset → 20 steps at 128 px → evaluation → ONNX export (< 60 s on one
    CPU thread). On a GPU host, ``device=cuda`` and ``workers=2`` check that code path."""
    from .evaluate import evaluate_run
    from .export import export_run

    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    if not (data_dir / "manifest.json").exists():
        make_smoke_dataset(data_dir)
    run_dir = out / "run"
    device = device or torch.device("cpu")
    trainer = Trainer(smoke_config(data_dir), run_dir, device=device, workers=workers, log=log)
    trainer.run()
    report = evaluate_run(run_dir, count=eval_count, device=device, log=log)
    exported = export_run(run_dir, out / "model", version="0.0.0-smoke", log=log)
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    test = report["results"][report["test_style"]]
    result = {"seconds": round(time.time() - t0, 1), "first_loss": losses[0], "final_loss": losses[-1],
              "test_map50": test["map50"], "test_map50_95": test["map50_95"], "onnx": exported["onnx"]}
    log(f"smoke: {result['seconds']} s, loss {result['first_loss']:.3f} -> {result['final_loss']:.3f}, "
        f"test mAP50 {result['test_map50']}; model in {out / 'model'}")
    return result


# ---------------------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Train Lookbook's detector on synthetic product scenes.")
    parser.add_argument("--name", help="run name: the run directory is training/runs/NAME")
    parser.add_argument("--out", type=Path, help="run directory (instead of --name); with --smoke, a scratch directory")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--max-minutes", type=float, help="train this long (wall clock), checkpoint and exit")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--preset", choices=["n", "s", "tiny"], help="n (YOLOv8n widths, default), s (YOLOv8s), tiny")
    parser.add_argument("--image-size", type=int, help="256 (default) or 320")
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--scenes-per-epoch", type=int)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--budget-minutes", type=float, help="cosine LR over this much training time; stop after it")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--echo", type=int,
                        help="data echoing: train on a batch up to N times (mirrored at random) while the next is not ready (1)")
    parser.add_argument("--ema-decay", type=float,
                        help="weight EMA decay (0.9999; a run of a few thousand steps wants ~0.999)")
    parser.add_argument("--ema-tau", type=float, help="EMA warmup in steps (1000)")
    parser.add_argument("--init-from", type=Path,
                        help="start from the weights of an exported detector (e.g. ../models/lookbook-detector/model.onnx)")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--warmup-epochs", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--eval-every", type=float, help="validation mAP every N epochs (0: never)")
    parser.add_argument("--eval-count", type=int, default=1000, help="final evaluation: scenes per style")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--workers", type=int, help="DataLoader workers (default: 0 on CPU, min(12, cores - 2) on CUDA)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: cuda when available (the smoke run: cpu unless given)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--no-eval", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = None if args.device == "auto" else torch.device(args.device)
    if args.smoke:
        run_smoke(args.out or Path(tempfile.mkdtemp(prefix="lookbook-det-smoke-")), device=device,
                  workers=args.workers or 0)
        return 0
    if not args.name and not args.out:
        parser.error("--name or --out is required")
    run_dir = args.out or RUNS_ROOT / args.name
    overrides = {"data": str(args.data) if args.data else None, "preset": args.preset, "image_size": args.image_size,
                 "epochs": args.epochs, "scenes_per_epoch": args.scenes_per_epoch, "max_steps": args.max_steps,
                 "budget_minutes": args.budget_minutes, "batch_size": args.batch_size, "lr": args.lr,
                 "warmup_epochs": args.warmup_epochs, "seed": args.seed, "eval_every_epochs": args.eval_every,
                 "amp": args.amp or None, "channels_last": args.channels_last or None,
                 "ema_decay": args.ema_decay, "ema_tau": args.ema_tau,
                 "init_from": str(args.init_from) if args.init_from else None, "echo": args.echo}
    cfg = replace(DetTrainConfig(), **{k: v for k, v in overrides.items() if v is not None})
    resume_overrides = None
    if args.resume:
        ignored = [k for k in ("data", "preset", "image_size", "epochs", "scenes_per_epoch", "max_steps",
                               "budget_minutes", "batch_size", "lr", "warmup_epochs", "seed", "ema_decay", "ema_tau",
                               "init_from")
                   if overrides[k] is not None]
        if ignored:
            say(f"--resume: ignoring {', '.join(ignored)}: the recipe comes from {run_dir / 'config.json'}")
        resume_overrides = {k: overrides[k] for k in ("amp", "channels_last", "eval_every_epochs", "echo")
                            if overrides[k] is not None}
    trainer = Trainer(cfg, run_dir, resume=args.resume, device=device, workers=args.workers,
                      resume_overrides=resume_overrides)
    done = trainer.run(max_minutes=args.max_minutes)
    if done and not args.no_eval:
        from .evaluate import evaluate_run

        evaluate_run(run_dir, count=args.eval_count, device=trainer.device)
    if trainer.stop_reason and trainer.stop_reason.startswith("signal"):
        return 128 + int(trainer.stop_reason.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
