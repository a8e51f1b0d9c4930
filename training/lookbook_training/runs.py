"""A training run's recipe (``TrainConfig``), model presets, and the files of a run directory.

A run directory (``training/runs/<name>/``, git-ignored) holds:

- ``config.json``: the ``TrainConfig`` (the whole recipe, seed included);
- ``tokenizer.json``: the WordPiece tokenizer trained on the dataset's captions;
- ``checkpoint.pt``: everything needed to resume (model, loss, optimizer, step, RNG states);
- ``model.pt``: the final weights and model config (written when training finishes);
- ``log.jsonl``: one JSON object per logged step / evaluation / event;
- ``eval.json`` and ``EVAL.md``: the evaluation.
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TypeVar

import torch

from .augment import AugmentConfig
from .losses import LossConfig
from .model import DualEncoder, DualEncoderConfig, ImageTowerConfig, TextTowerConfig
from .tokenizer import PAD, Tokenizer

TRAINING_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = TRAINING_ROOT.parent
DEFAULT_DATA = TRAINING_ROOT / "data" / "emoji-v1"
RUNS_ROOT = TRAINING_ROOT / "runs"

C = TypeVar("C")


def config_from_dict(cls: type[C], data: dict[str, Any], nested: dict[str, Callable[..., Any]]) -> C:
    """A recipe dataclass from its JSON form: unknown keys refused, nested configs rebuilt,
    ``adam_betas`` back to a tuple (JSON has only lists)."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}")
    data = dict(data)
    for key, make in nested.items():
        if key in data:
            data[key] = make(**data[key])
    if "adam_betas" in data:
        data["adam_betas"] = tuple(data["adam_betas"])
    return cls(**data)


@contextmanager
def stop_signals() -> Iterator[dict[str, Optional[int]]]:
    """Records SIGTERM / SIGINT in the yielded dict (``signal``) instead of dying, so a
    training loop can checkpoint and exit; the previous handlers come back afterwards."""
    stop: dict[str, Optional[int]] = {"signal": None}

    def on_signal(signum: int, _frame: Any) -> None:
        stop["signal"] = signum

    old_handlers = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            old_handlers[sig] = signal.signal(sig, on_signal)
        except ValueError:  # not the main thread
            pass
    try:
        yield stop
    finally:
        for sig, handler in old_handlers.items():
            signal.signal(sig, handler)


def schedule_progress(step: int, total: int, train_seconds: float, budget_minutes: Optional[float],
                      start: int = 0) -> float:
    """0 → 1 over a schedule: steps ``start … total``, or ``budget_minutes`` of training time."""
    if budget_minutes is not None:
        p = train_seconds / (60.0 * budget_minutes)
    else:
        p = (step - start) / max(total - start, 1)
    return min(max(p, 0.0), 1.0)


def schedule_done(step: int, total: int, train_seconds: float, budget_minutes: Optional[float]) -> bool:
    """A schedule is over: all its steps, or its ``budget_minutes`` of training time."""
    return step >= total or (budget_minutes is not None and train_seconds >= 60 * budget_minutes)


def warmup_cosine_lr(lr: float, min_lr_ratio: float, warmup_steps: int, step: int, total: int,
                     train_seconds: float, budget_minutes: Optional[float]) -> float:
    """Linear warmup over ``warmup_steps`` (at most 10 % of a step schedule), then cosine from
    ``lr`` to ``lr · min_lr_ratio`` over the steps — or over ``budget_minutes`` of training time
    (both trainers' schedule)."""
    warmup = warmup_steps
    if budget_minutes is None:
        warmup = min(warmup, max(total // 10, 1)) if total else 0
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = schedule_progress(step, total, train_seconds, budget_minutes, start=warmup)
    floor = lr * min_lr_ratio
    return floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def end_run(trainer: Any, done: bool, finished_text: str) -> bool:
    """The last checkpoint of a training loop, then the final weights (when the schedule is
    done) or the way to continue. ``trainer`` has checkpoint, save_model, log, step, total,
    train_seconds and stop_reason."""
    trainer.checkpoint(trainer.stop_reason or "finished")
    if done:
        trainer.save_model()
        trainer.log({"event": "finished", "step": trainer.step, "train_seconds": round(trainer.train_seconds, 1)},
                    finished_text)
    else:
        trainer.log({"event": "stopped", "reason": trainer.stop_reason, "step": trainer.step},
                    f"stopped ({trainer.stop_reason}) at step {trainer.step}/{trainer.total}; checkpoint saved. "
                    f"Continue with --resume.")
    return done


# Tower sizes. "base" is MODEL.md's measured model (1.4 M + 1.3 M parameters with a 3.9 k
# vocabulary); "wide" its wider variant (~5.0 M + ~3.5 M); "small"/"tiny" for the smoke run
# and the tests.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "base": {
        "image": {"stem_channels": (32, 64), "width": 160, "layers": 4, "heads": 4},
        "text": {"width": 128, "layers": 4, "heads": 4},
    },
    "wide": {
        "image": {"stem_channels": (32, 64), "width": 256, "layers": 6, "heads": 8},
        "text": {"width": 192, "layers": 6, "heads": 6},
    },
    "small": {
        "image": {"stem_channels": (16, 32), "width": 64, "layers": 2, "heads": 4},
        "text": {"width": 64, "layers": 2, "heads": 4},
    },
    "tiny": {
        "image": {"stem_channels": (8, 16), "width": 32, "layers": 1, "heads": 2},
        "text": {"width": 32, "layers": 1, "heads": 2},
    },
}


@dataclass
class TrainConfig:
    data: str = str(DEFAULT_DATA)
    preset: str = "base"
    dim: int = 512
    image_size: int = 64
    context_length: int = 16
    vocab_size: int = 8000
    # English labels and keywords count this many times in the vocabulary corpus: queries
    # are mostly English, and 8 languages share the vocabulary (x3: 43 % of English words
    # stay whole tokens at 8 k, against 31 % with equal weight).
    vocab_english_weight: int = 3
    # Locales whose captions join the vocabulary corpus and (with p_other_locale) the
    # training captions: those whose normalized text uses <= this many characters.
    locale_max_chars: int = 120
    batch_size: int = 128  # concepts per step (2 images each)
    epochs: float = 130.0  # an epoch pairs up every training image once (~41 steps of 128)
    max_steps: Optional[int] = None  # overrides epochs (smoke run, tests)
    # Schedule on training time (a GPU run of fixed length): warmup as usual, then the cosine
    # LR and the binarization anneal run over this many minutes; epochs/max_steps stay a cap.
    # Resumable, but not bit-deterministic: where each step falls depends on the clock.
    budget_minutes: Optional[float] = None
    lr: float = 1e-3
    min_lr_ratio: float = 0.01
    warmup_epochs: float = 2.0
    weight_decay: float = 0.05
    adam_betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-6
    grad_clip: float = 1.0
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    p_other_locale: float = 0.2
    p_label_only: float = 0.3
    max_tags: int = 3
    unseen_fraction: float = 0.08
    split_seed: str = "lookbook-emoji-split-v1"  # the dataset's unseen-concept split
    seed: int = 0
    amp: bool = False  # bf16 autocast, CUDA only
    channels_last: bool = False
    eval_every_epochs: float = 10.0  # quick validation-style eval; 0: never
    checkpoint_minutes: float = 10.0
    log_every_steps: int = 10
    # Warm start: an exported Lookbook model directory whose weights (read back from its ONNX
    # graphs, see warm_start.py) replace the random init; the schedule then runs as usual.
    init_from: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "TrainConfig":
        return config_from_dict(TrainConfig, data, {"loss": LossConfig, "augment": AugmentConfig})


def model_config(cfg: TrainConfig, vocab_size: int, pad_id: int = 0) -> DualEncoderConfig:
    preset = PRESETS[cfg.preset]
    image = dict(preset["image"])
    image["stem_channels"] = tuple(image["stem_channels"])
    return DualEncoderConfig(
        dim=cfg.dim,
        image=ImageTowerConfig(image_size=cfg.image_size, **image),
        text=TextTowerConfig(
            vocab_size=vocab_size, context_length=cfg.context_length, pad_id=pad_id, **preset["text"]
        ),
    )


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_torch(path: Path) -> Any:
    """``torch.load`` on the CPU of a file this package wrote. Checkpoints hold NumPy and
    Python RNG states, which PyTorch >= 2.6's default ``weights_only=True`` refuses."""
    import inspect

    kwargs: dict[str, Any] = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = False
    return torch.load(path, **kwargs)


def load_run_config(run_dir: Path) -> TrainConfig:
    return TrainConfig.from_dict(read_json(Path(run_dir) / "config.json"))


def load_tokenizer(run_dir: Path) -> tuple[Tokenizer, dict[str, Any]]:
    spec = read_json(Path(run_dir) / "tokenizer.json")
    return Tokenizer(spec), spec


def load_model(run_dir: Path, checkpoint: Optional[Path] = None) -> tuple[DualEncoder, dict[str, Any]]:
    """The run's final ``model.pt``, else its latest ``checkpoint.pt`` (or the given file).
    Returns (model in eval mode, the file's metadata)."""
    run_dir = Path(run_dir)
    if checkpoint is None:
        checkpoint = run_dir / "model.pt"
        if not checkpoint.exists():
            checkpoint = run_dir / "checkpoint.pt"
    state = load_torch(checkpoint)
    model = DualEncoder(DualEncoderConfig.from_dict(state["model_config"]))
    model.load_state_dict(state["model"])
    meta = {k: v for k, v in state.items() if k in ("step", "total_steps", "epoch", "train_seconds",
                                                    "images_seen", "data_fingerprint", "finished")}
    meta["file"] = str(checkpoint)
    meta["temperatures"] = temperatures(model, state.get("loss"), run_dir)
    return model.eval(), meta


def temperatures(model: DualEncoder, loss_state: Optional[dict[str, Any]], run_dir: Path) -> dict[str, float]:
    """The two learned softmax temperatures (as scales, exp of the logs): CLIP's, held by the
    model, and the binary codes', held by the loss — from its state where the file has it (a
    checkpoint; model.pt since 2026-11), else from the run log's last training record."""
    out = {"logit_scale": float(model.logit_scale.exp())}
    if loss_state is not None and "code_logit_scale" in loss_state:
        out["code_logit_scale"] = float(loss_state["code_logit_scale"].exp())
    else:
        log = Path(run_dir) / "log.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        last = next((r for r in map(json.loads, reversed(lines)) if "code_scale" in r), None)
        if last is not None:
            out["code_logit_scale"] = float(last["code_scale"])
    return out


def machine_description() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def pad_id_of(tokenizer: Tokenizer) -> int:
    pad = tokenizer.token_to_id(PAD)
    return 0 if pad is None else pad
