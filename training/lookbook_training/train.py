"""Trains Lookbook's default dual encoder on the emoji dataset, resumably.

    cd training
    # a run (stop any time; --max-minutes trains that long, checkpoints and exits)
    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 -m lookbook_training.train \\
        --name base-e130 --epochs 130 --max-minutes 60
    # continue it exactly where it stopped
    OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 -m lookbook_training.train \\
        --name base-e130 --resume --max-minutes 60
    # CI smoke: synthetic data, 60 steps, evaluation and export, ~10 s
    OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.train --smoke --out /tmp/smoke

Each step takes ``batch_size`` concepts, two augmented images of each from two different
training styles and one caption, and minimizes ``losses.PinClipLoss``. Every random choice
of a step (its batch, captions, augmentation) is derived from (seed, step) and the epoch
order from (seed, epoch), so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from .augment import augment
from .emoji_data import (
    EmojiData,
    TrainSet,
    build_train_set,
    direction_matters,
    epoch_batches,
    sample_caption,
    small_alphabet_locales,
    steps_per_epoch,
    unseen_split,
    vocabulary_texts,
)
from .json_files import write_json
from .losses import MAX_LOGIT_SCALE, PinClipLoss, beta_at
from .model import DualEncoder
from .runs import (
    RUNS_ROOT,
    TrainConfig,
    count_parameters,
    end_run,
    load_run_config,
    load_torch,
    machine_description,
    model_config,
    pad_id_of,
    read_json,
    schedule_done,
    schedule_progress,
    stop_signals,
    warmup_cosine_lr,
)
from .tokenizer import Tokenizer, encode_for_context, train_wordpiece_vocab_fast, wordpiece_tokenizer_json
from .warm_start import calibrate_batchnorm, load_from_model_dir, warm_start_source


def say(message: str) -> None:
    """print, flushed: progress shows up at once in a redirected log (nohup … > run.out)."""
    print(message, flush=True)


def lr_at(cfg: TrainConfig, step: int, total: int, spe: int, train_seconds: float = 0.0) -> float:
    """Warmup over ``warmup_epochs``, then cosine over the steps or ``budget_minutes`` (runs.py)."""
    return warmup_cosine_lr(cfg.lr, cfg.min_lr_ratio, int(round(cfg.warmup_epochs * spe)), step, total,
                            train_seconds, cfg.budget_minutes)


def _step_seed(seed: int, step: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, step, stream]).generate_state(1, np.uint64)[0]) >> 1


def param_groups(modules: Sequence[nn.Module], weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices and conv kernels only (not norms, biases, embeddings,
    positions, CLS token or temperatures)."""
    decay, no_decay = [], []
    for module in modules:
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            is_embedding = "embed" in name or "cls_token" in name
            (decay if p.ndim >= 2 and not is_embedding else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class CaptionIds:
    """Caption → context-length ids, memoized (captions repeat across steps)."""

    def __init__(self, tokenizer: Tokenizer, context_length: int, pad_id: int) -> None:
        self.tokenizer, self.context_length, self.pad_id = tokenizer, context_length, pad_id
        self.cache: dict[str, list[int]] = {}

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        rows = []
        for t in texts:
            ids = self.cache.get(t)
            if ids is None:
                ids = encode_for_context(self.tokenizer, t, self.context_length, self.pad_id).ids
                self.cache[t] = ids
            rows.append(ids)
        return torch.tensor(rows, dtype=torch.int64)


def build_tokenizer(data: EmojiData, cfg: TrainConfig, locales: Sequence[str]) -> dict[str, Any]:
    texts = vocabulary_texts(data.concepts, locales)
    texts += vocabulary_texts(data.concepts, []) * (cfg.vocab_english_weight - 1)
    return wordpiece_tokenizer_json(train_wordpiece_vocab_fast(texts, cfg.vocab_size))


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_states() -> dict[str, Any]:
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class Trainer:
    def __init__(self, cfg: TrainConfig, run_dir: Path, resume: bool = False,
                 device: Optional[torch.device] = None, log: Callable[[str], None] = say,
                 resume_overrides: Optional[dict[str, Any]] = None) -> None:
        self.run_dir = Path(run_dir)
        self.log_fn = log
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ckpt_path = self.run_dir / "checkpoint.pt"
        if resume:
            if not ckpt_path.exists():
                raise FileNotFoundError(f"--resume: no {ckpt_path}")
            cfg = load_run_config(self.run_dir)  # the saved recipe wins…
            # …except settings that change how, not what, it computes (--amp, --channels-last,
            # --eval-every): a CPU run may continue on a GPU.
            cfg = replace(cfg, **(resume_overrides or {}))
        elif ckpt_path.exists() or (self.run_dir / "model.pt").exists():
            raise FileExistsError(f"{self.run_dir} already has a run: pass --resume, or another --name")
        self.cfg = cfg
        self.data = EmojiData(Path(cfg.data))
        keys = [c.key for c in self.data.concepts]
        if resume:
            self.meta = read_json(self.run_dir / "run.json")
            if self.meta["data_fingerprint"] != self.data.fingerprint():
                raise ValueError("the dataset changed since this run started; resume refused")
            spec = read_json(self.run_dir / "tokenizer.json")
        else:
            unseen = unseen_split(keys, cfg.unseen_fraction, cfg.split_seed)
            locales = small_alphabet_locales(self.data.concepts, cfg.locale_max_chars)
            spec = build_tokenizer(self.data, cfg, locales)
            write_json(self.run_dir / "tokenizer.json", spec)
            write_json(self.run_dir / "config.json", cfg.to_dict())
            self.meta = {
                "data": str(cfg.data),
                "data_version": self.data.version,
                "data_fingerprint": self.data.fingerprint(),
                "train_styles": self.data.train_styles,
                "val_style": self.data.val_style,
                "test_style": self.data.test_style,
                "unseen_keys": unseen,
                "caption_locales": locales,
                "vocab_size": len(spec["model"]["vocab"]),
            }
        self.tokenizer = Tokenizer(spec)
        self.unseen = list(self.meta["unseen_keys"])
        self.locales = list(self.meta["caption_locales"])
        self.train_set: TrainSet = build_train_set(self.data, self.unseen)
        self.flip_ok = np.array([not direction_matters(c) for c in self.data.concepts])
        self.spe = steps_per_epoch(self.train_set, cfg.batch_size)
        if self.spe < 1:
            raise ValueError(f"{self.train_set.pairs_per_epoch()} pairs per epoch: fewer than one batch")
        self.total = cfg.max_steps if cfg.max_steps is not None else int(round(cfg.epochs * self.spe))
        pad_id = pad_id_of(self.tokenizer)
        self.captions = CaptionIds(self.tokenizer, cfg.context_length, pad_id)

        self._epoch_cache: tuple[int, list[np.ndarray]] = (-1, [])
        torch.manual_seed(cfg.seed)
        self.model = DualEncoder(model_config(cfg, len(self.tokenizer.vocab), pad_id)).to(self.device)
        if cfg.channels_last:
            self.model.image.to(memory_format=torch.channels_last)
        self.loss = PinClipLoss(cfg.loss).to(self.device)
        if cfg.init_from and not resume:
            self.meta["init_from"] = self._warm_start(Path(cfg.init_from), spec)
        self.optimizer = torch.optim.AdamW(
            param_groups([self.model, self.loss], cfg.weight_decay),
            lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps,
        )
        self.step = 0
        self.train_seconds = 0.0
        self.images_seen = 0
        self.best: dict[str, Any] = {}
        if resume:
            state = load_torch(ckpt_path)
            self.model.load_state_dict(state["model"])
            self.loss.load_state_dict(state["loss"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step = state["step"]
            self.train_seconds = state["train_seconds"]
            self.images_seen = state["images_seen"]
            _set_rng_states(state["rng"])
            if state.get("total_steps") != self.total:
                raise ValueError(f"checkpoint planned {state.get('total_steps')} steps, config gives {self.total}")
        else:
            self.meta.update(
                steps_per_epoch=self.spe,
                total_steps=self.total,
                train_images=int(len(self.train_set.images)),
                train_concepts=len(self.train_set.rows_of),
                pairs_per_epoch=self.train_set.pairs_per_epoch(),
                parameters={"image": count_parameters(self.model.image), "text": count_parameters(self.model.text)},
                machine=machine_description(),
                device=str(self.device),
            )
            write_json(self.run_dir / "run.json", self.meta)
        self._epoch_cache: tuple[int, list[np.ndarray]] = (-1, [])
        self.stop_reason: Optional[str] = None

    def _warm_start(self, model_dir: Path, spec: dict[str, Any]) -> dict[str, Any]:
        """Loads an exported model's weights (see warm_start.py) before the first step."""
        given = read_json(model_dir / "tokenizer.json")
        if given["model"]["vocab"] != spec["model"]["vocab"]:
            raise ValueError(f"--init-from {model_dir}: its tokenizer differs from the one this run builds")
        report = load_from_model_dir(self.model, model_dir)
        if report["missing"]:
            raise ValueError(f"--init-from {model_dir}: no weights for {report['missing']}")
        # Calibrate the folded stem BatchNorms on one augmented training batch.
        batch = self.batch_for(0)
        images = torch.from_numpy(self.train_set.images[batch[:, 1]]).to(self.device)
        flip_ok = torch.from_numpy(self.flip_ok[batch[:, 0]])
        x = augment(images, flip_ok, torch.Generator().manual_seed(self.cfg.seed), self.cfg.augment)
        calibrate_batchnorm(self.model.image, x)
        # The graphs do not hold the temperatures: training.json does (exports since 2026-11);
        # without it both start at the clamp (100), where CLIP-style training often ends.
        record = read_json(model_dir / "training.json") if (model_dir / "training.json").exists() else {}
        temps = record.get("temperatures") or {}
        with torch.no_grad():
            for param, key in ((self.model.logit_scale, "logit_scale"), (self.loss.code_logit_scale, "code_logit_scale")):
                param.fill_(math.log(temps[key]) if temps.get(key) else MAX_LOGIT_SCALE)
        manifest = read_json(model_dir / "lookbook.json")
        self.log({"event": "warm_start", "from": str(model_dir), "id": manifest.get("id"),
                  "version": manifest.get("version"), "parameters": len(report["loaded"])},
                 f"warm start from {model_dir} ({manifest.get('id')} {manifest.get('version')}): "
                 f"{len(report['loaded'])} parameters")
        return {"dir": str(model_dir.resolve()), "id": manifest.get("id"), "version": manifest.get("version"),
                "source": warm_start_source(model_dir)}

    # -------------------------------------------------------------------------------

    def log(self, record: dict[str, Any], text: Optional[str] = None) -> None:
        record = {"time": round(time.time(), 3), **record}
        with (self.run_dir / "log.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if text:
            self.log_fn(text)

    def batch_for(self, step: int) -> np.ndarray:
        epoch, i = divmod(step, self.spe)
        if self._epoch_cache[0] != epoch:
            self._epoch_cache = (epoch, epoch_batches(self.train_set, self.cfg.seed, epoch, self.cfg.batch_size))
        return self._epoch_cache[1][i]

    def train_step(self) -> dict[str, float]:
        cfg, step = self.cfg, self.step
        batch = self.batch_for(step)
        concepts = batch[:, 0]
        crng = np.random.default_rng(_step_seed(cfg.seed, step, 1))
        texts = [
            sample_caption(self.data.concepts[c], crng, self.locales, cfg.p_other_locale,
                           cfg.p_label_only, cfg.max_tags)
            for c in concepts
        ]
        ids = self.captions(texts).to(self.device)
        rows = np.concatenate([batch[:, 1], batch[:, 2]])
        images = torch.from_numpy(self.train_set.images[rows]).to(self.device)
        flip_ok = torch.from_numpy(self.flip_ok[np.concatenate([concepts, concepts])])
        gen = torch.Generator().manual_seed(_step_seed(cfg.seed, step, 2))
        x = augment(images, flip_ok, gen, cfg.augment)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        lr = lr_at(cfg, step, self.total, self.spe, self.train_seconds)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if cfg.budget_minutes is not None:
            beta = beta_at(cfg.loss, schedule_progress(step, self.total, self.train_seconds, cfg.budget_minutes))
        else:
            beta = beta_at(cfg.loss, step / max(self.total - 1, 1))
        self.model.train()
        amp = cfg.amp and self.device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.bfloat16) if amp else nullcontext():
            z_img = self.model.image(x)
            z_txt = self.model.text(ids)
        z_img, z_txt = z_img.float(), z_txt.float()  # the loss in fp32 (bf16 under --amp)
        n = len(concepts)
        concepts_t = torch.from_numpy(concepts).to(self.device)
        loss, parts = self.loss(z_img[:n], z_img[n:], z_txt, self.model.logit_scale, beta, concepts_t)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(
            list(self.model.parameters()) + list(self.loss.parameters()), cfg.grad_clip
        ) if cfg.grad_clip > 0 else torch.tensor(0.0)
        self.optimizer.step()
        self.step += 1
        self.images_seen += 2 * n
        out = {k: float(v) for k, v in parts.items()}
        out.update(lr=lr, beta=beta, grad_norm=float(grad_norm),
                   scale=float(self.model.logit_scale.exp()), code_scale=float(self.loss.code_logit_scale.exp()))
        return out

    def checkpoint(self, reason: str) -> None:
        state = {
            "model_config": self.model.cfg.to_dict(),
            "model": self.model.state_dict(),
            "loss": self.loss.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "total_steps": self.total,
            "epoch": self.step / self.spe,
            "train_seconds": self.train_seconds,
            "images_seen": self.images_seen,
            "data_fingerprint": self.meta["data_fingerprint"],
            "rng": _rng_states(),
            "finished": self.done(),
        }
        _atomic_save(state, self.run_dir / "checkpoint.pt")
        self.log({"event": "checkpoint", "reason": reason, "step": self.step})

    def save_model(self) -> None:
        _atomic_save(
            {
                "model_config": self.model.cfg.to_dict(),
                "model": self.model.state_dict(),
                "loss": self.loss.state_dict(),  # the code temperature (a warm start reads it back)
                "step": self.step,
                "total_steps": self.total,
                "epoch": self.step / self.spe,
                "train_seconds": self.train_seconds,
                "images_seen": self.images_seen,
                "data_fingerprint": self.meta["data_fingerprint"],
                "finished": self.done(),
            },
            self.run_dir / "model.pt",
        )

    def done(self) -> bool:
        return schedule_done(self.step, self.total, self.train_seconds, self.cfg.budget_minutes)

    def quick_eval(self) -> dict[str, Any]:
        """Validation style only (tuning): T→I and I→I, float and binary."""
        from .evaluate import Galleries

        if not hasattr(self, "_galleries"):
            self._galleries = Galleries(self.data, self.unseen)
        t0 = time.time()
        res = self._galleries.evaluate(self.model, self.tokenizer, self.device, styles=[self.data.val_style])
        val = res["val"]
        summary = {
            "t2i_r1": val["t2i"]["float"]["all"]["r1"], "t2i_r5": val["t2i"]["float"]["all"]["r5"],
            "t2i_bin_r1": val["t2i"]["binary"]["all"]["r1"],
            "t2i_unseen_r5": val["t2i"]["float"]["unseen"]["r5"],
            "i2i_r1": val["i2i"]["float"]["all"]["r1"], "i2i_bin_r1": val["i2i"]["binary"]["all"]["r1"],
        }
        self.log({"event": "eval", "step": self.step, "epoch": round(self.step / self.spe, 3),
                  "style": self.data.val_style, "seconds": round(time.time() - t0, 1), **summary},
                 f"eval @ epoch {self.step / self.spe:.1f} ({self.data.val_style}): "
                 + " ".join(f"{k} {v}" for k, v in summary.items()))
        return summary

    def run(self, max_minutes: Optional[float] = None, max_steps_now: Optional[int] = None) -> bool:
        """Trains until the end of the schedule, ``max_minutes`` or ``max_steps_now`` more
        steps, or SIGTERM / SIGINT; checkpoints in every case. True when the schedule is done."""
        cfg = self.cfg
        start = time.time()
        last_ckpt = start
        window = (time.time(), self.step, self.images_seen)
        self.log({"event": "start", "step": self.step, "total_steps": self.total,
                  "steps_per_epoch": self.spe, "device": str(self.device), "threads": torch.get_num_threads()},
                 f"training {self.run_dir.name}: step {self.step}/{self.total} ({self.spe} steps/epoch, "
                 f"batch {cfg.batch_size} concepts = {2 * cfg.batch_size} images), device {self.device}, "
                 f"{torch.get_num_threads()} threads")
        first_step = self.step
        with stop_signals() as stop:
            while not self.done():
                t_step = time.time()
                parts = self.train_step()
                self.train_seconds += time.time() - t_step
                epoch_done = self.step % self.spe == 0
                if self.step % cfg.log_every_steps == 0 or self.done() or self.step == first_step + 1:
                    now = time.time()
                    dt = max(now - window[0], 1e-9)
                    ips = (self.images_seen - window[2]) / dt
                    sps = (self.step - window[1]) / dt
                    if cfg.budget_minutes is not None:
                        eta = 60 * cfg.budget_minutes - self.train_seconds
                    else:
                        eta = (self.total - self.step) / sps if sps > 0 else float("nan")
                    window = (now, self.step, self.images_seen)
                    self.log(
                        {"step": self.step, "epoch": round(self.step / self.spe, 3), **parts,
                         "img_per_s": round(ips, 1), "elapsed": round(self.train_seconds, 1), "eta_s": round(eta)},
                        f"step {self.step}/{self.total} ep {self.step / self.spe:.2f} loss {parts['total']:.3f} "
                        f"(it {parts['it']:.3f} ii {parts['ii']:.3f} code {parts.get('code', 0):.3f} "
                        f"bal {parts.get('bal', 0):.4f}) lr {parts['lr']:.2e} T {parts['scale']:.1f} "
                        f"beta {parts['beta']:.2f} {ips:.0f} img/s ETA {eta / 60:.0f} min",
                    )
                if (epoch_done and cfg.eval_every_epochs > 0
                        and (self.step // self.spe) % max(int(round(cfg.eval_every_epochs)), 1) == 0
                        and not self.done()):
                    self.quick_eval()
                    self.checkpoint("eval")
                    last_ckpt = time.time()
                if stop["signal"] is not None:
                    self.stop_reason = f"signal {stop['signal']}"
                    break
                if max_minutes is not None and time.time() - start >= 60 * max_minutes:
                    self.stop_reason = f"--max-minutes {max_minutes}"
                    break
                if max_steps_now is not None and self.step - first_step >= max_steps_now:
                    self.stop_reason = "max_steps_now"
                    break
                if time.time() - last_ckpt >= 60 * cfg.checkpoint_minutes:
                    self.checkpoint("periodic")
                    last_ckpt = time.time()
        return end_run(self, self.done(),
                       f"finished: {self.step} steps, {self.train_seconds / 60:.1f} min of training, "
                       f"{self.images_seen / max(self.train_seconds, 1e-9):.0f} img/s")


# ---------------------------------------------------------------------------------------


def smoke_config(data_dir: Path) -> TrainConfig:
    return TrainConfig(
        data=str(data_dir), preset="small", vocab_size=400, batch_size=16, max_steps=60,
        warmup_epochs=0.5, eval_every_epochs=0, log_every_steps=5,
    )


def run_smoke(out: Path, log: Callable[[str], None] = say) -> dict[str, Any]:
    """Synthetic dataset → 60 steps → evaluation → export with reference.json."""
    from .evaluate import evaluate_run
    from .export_default import export_run
    from .synthetic_data import make_synthetic_dataset

    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = make_synthetic_dataset(out / "data")
    run_dir = out / "run"
    trainer = Trainer(smoke_config(data_dir), run_dir, log=log)
    trainer.run()
    report = evaluate_run(run_dir, log=log)
    manifest = export_run(run_dir, out / "model", version="0.0.0-smoke", log=log)
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    losses = [r["total"] for r in records if "total" in r]
    result = {
        "seconds": round(time.time() - t0, 1),
        "first_loss": losses[0],
        "final_loss": losses[-1],
        "manifest": manifest,
        "test_t2i_r5": report["trained"]["test"]["t2i"]["float"]["all"]["r5"],
        "baseline_t2i_r5": report["baseline"]["test"]["t2i"]["float"]["all"]["r5"],
    }
    log(f"smoke: {result['seconds']} s, loss {result['first_loss']:.3f} -> {result['final_loss']:.3f}, "
        f"test T→I R@5 {result['test_t2i_r5']} (random init {result['baseline_t2i_r5']}); model in {out / 'model'}")
    return result


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig()
    overrides = {
        "data": str(args.data) if args.data else None,
        "preset": args.preset,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "vocab_size": args.vocab_size,
        "max_steps": args.max_steps,
        "budget_minutes": args.budget_minutes,
        "amp": args.amp or None,
        "channels_last": args.channels_last or None,
        "eval_every_epochs": args.eval_every,
        "warmup_epochs": args.warmup_epochs,
        "init_from": str(args.init_from) if args.init_from else None,
    }
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    loss_overrides = {k: getattr(args, k) for k in ("w_ii", "w_code", "w_bal", "beta_start", "beta_end") if getattr(args, k) is not None}
    if loss_overrides:
        cfg = replace(cfg, loss=replace(cfg.loss, **loss_overrides))
    if args.scene_aug is not None:
        cfg = replace(cfg, augment=replace(cfg.augment, p_scene=args.scene_aug))
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Train the default Lookbook dual encoder.")
    parser.add_argument("--name", help="run name: the run directory is training/runs/NAME")
    parser.add_argument("--out", type=Path, help="run directory (instead of --name); with --smoke, a scratch directory")
    parser.add_argument("--resume", action="store_true", help="continue the run in the run directory exactly")
    parser.add_argument("--max-minutes", type=float, help="train this long, then checkpoint and exit")
    parser.add_argument("--smoke", action="store_true", help="CI smoke run on synthetic data, into --out (default: a new temporary directory)")
    parser.add_argument("--data", type=Path, help="dataset directory (default training/data/emoji-v1)")
    parser.add_argument("--preset", choices=["base", "wide", "small", "tiny"])
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--max-steps", type=int, help="schedule length in steps (overrides --epochs)")
    parser.add_argument("--budget-minutes", type=float,
                        help="schedule on training time: cosine LR over this many minutes, then stop "
                             "(--epochs stays a cap); for a GPU run of fixed length")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--warmup-epochs", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--vocab-size", type=int)
    parser.add_argument("--w-ii", type=float)
    parser.add_argument("--w-code", type=float)
    parser.add_argument("--w-bal", type=float)
    parser.add_argument("--beta-start", type=float)
    parser.add_argument("--beta-end", type=float)
    parser.add_argument("--scene-aug", type=float,
                        help="share of images augmented as scene crops (patterned background, a neighbour "
                             "behind, lower resolution; augment.py); default 0")
    parser.add_argument("--init-from", type=Path,
                        help="start from the weights of an exported model directory (e.g. models/lookbook-emoji)")
    parser.add_argument("--eval-every", type=float, help="validation eval every N epochs (0: never)")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA only)")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: OMP_NUM_THREADS)")
    parser.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.smoke:
        out = args.out or Path(tempfile.mkdtemp(prefix="lookbook-smoke-"))
        run_smoke(out)
        return 0
    if not args.name and not args.out:
        parser.error("--name or --out is required")
    run_dir = args.out or RUNS_ROOT / args.name
    cfg = _config_from_args(args)
    if args.resume:
        given = [a for a in ("data", "preset", "epochs", "batch_size", "lr", "seed", "vocab_size", "max_steps", "budget_minutes",
                             "w_ii", "w_code", "w_bal", "beta_start", "beta_end", "warmup_epochs", "init_from", "scene_aug")
                 if getattr(args, a) is not None]
        if given:
            print(f"--resume: ignoring {', '.join('--' + g.replace('_', '-') for g in given)}: "
                  f"the recipe comes from {run_dir / 'config.json'}")
    overrides = {"amp": args.amp or None, "channels_last": args.channels_last or None,
                 "eval_every_epochs": args.eval_every}
    trainer = Trainer(cfg, run_dir, resume=args.resume,
                      resume_overrides={k: v for k, v in overrides.items() if v is not None})
    done = trainer.run(max_minutes=args.max_minutes)
    if done and not args.no_eval:
        from .evaluate import evaluate_run

        evaluate_run(run_dir, log=say)
    if trainer.stop_reason and trainer.stop_reason.startswith("signal"):
        return 128 + int(trainer.stop_reason.split()[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
