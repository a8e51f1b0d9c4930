"""Retrieval evaluation of a trained dual encoder on held-out emoji styles.

    cd training
    OMP_NUM_THREADS=2 /usr/bin/python3 -m lookbook_training.evaluate --run runs/NAME

Galleries (fixed and deterministic; images flattened onto white, as the service does):

- **text→image** (``t2i``): one query per concept of the evaluated style — its English
  label as it is (e.g. "red apple") — against a gallery of every image of that style (one
  per concept). Hit@k: the concept's own image is among the k nearest.
- **image→image cross-style** (``i2i``): each image of the evaluated style queries a gallery
  of every image of the *training* styles (unseen concepts included). Hit@k: an image of
  the same concept is among the k nearest. Queries whose concept has no gallery image are
  skipped (counted in ``skipped``).

The test style (``twitter``) is never trained or tuned on; the validation style
(``openmoji-black``) is for tuning. Queries are split by concept into ``seen`` and
``unseen`` (the run's held-out 8 % of concepts, never trained on).

Scores: ``float`` is the cosine of the embeddings; ``binary`` the Hamming distance between
sign bits (bit set where the value > 0, as the service's ``ubinary``). Ties (common with
Hamming distances) go to the lower gallery index, i.e. a stable sort: the rank of the first
correct item is #(strictly better) + #(equal and earlier in the gallery).

A random-init model of the same configuration and seed gives the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from .augment import eval_transform
from .emoji_data import EmojiData, query_caption
from .json_files import write_json
from .model import DualEncoder
from .runs import (
    count_parameters,
    load_model,
    load_run_config,
    load_tokenizer,
    machine_description,
    read_json,
)
from .tokenizer import Tokenizer, encode_for_context

KS = (1, 5)


# ---------------------------------------------------------------------------------------
# Recall.


def first_hit_ranks(scores: np.ndarray, query_labels: np.ndarray, gallery_labels: np.ndarray) -> np.ndarray:
    """0-based rank of the first gallery item with the query's label when the gallery is
    sorted by descending score, ties by ascending index; -1 where no item has the label."""
    scores = np.asarray(scores, dtype=np.float64)
    correct = query_labels[:, None] == gallery_labels[None, :]
    masked = np.where(correct, scores, -np.inf)
    best = masked.max(axis=1)
    first = np.argmax(correct & (scores == best[:, None]), axis=1)
    better = (scores > best[:, None]).sum(axis=1)
    tied_before = ((scores == best[:, None]) & (np.arange(scores.shape[1])[None, :] < first[:, None])).sum(axis=1)
    ranks = better + tied_before
    ranks[~correct.any(axis=1)] = -1
    return ranks


def ranks_chunked(query: np.ndarray, gallery: np.ndarray, query_labels: np.ndarray,
                  gallery_labels: np.ndarray, binary: bool, chunk: int = 256) -> np.ndarray:
    if binary:
        q = np.where(query > 0, 1.0, -1.0).astype(np.float32)
        g = np.where(gallery > 0, 1.0, -1.0).astype(np.float32)
        d = q.shape[1]
    else:
        q, g = query.astype(np.float32), gallery.astype(np.float32)
    out = []
    for s in range(0, len(q), chunk):
        sim = q[s : s + chunk] @ g.T
        if binary:
            sim = -np.rint((d - sim) / 2)  # minus the Hamming distance, exact integers
        out.append(first_hit_ranks(sim, query_labels[s : s + chunk], gallery_labels))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def recall_summary(ranks: np.ndarray, ks: Sequence[int] = KS) -> dict[str, Any]:
    valid = ranks >= 0
    n = int(valid.sum())
    out: dict[str, Any] = {"n": n}
    for k in ks:
        out[f"r{k}"] = round(100.0 * float((ranks[valid] < k).sum()) / n, 2) if n else None
    if (~valid).any():
        out["skipped"] = int((~valid).sum())
    return out


def split_summary(ranks: np.ndarray, unseen_mask: np.ndarray) -> dict[str, Any]:
    return {
        "all": recall_summary(ranks),
        "seen": recall_summary(ranks[~unseen_mask]),
        "unseen": recall_summary(ranks[unseen_mask]),
    }


# ---------------------------------------------------------------------------------------
# Embedding.


@torch.no_grad()
def embed_images(model: DualEncoder, images: np.ndarray, device: torch.device, batch: int = 512) -> np.ndarray:
    model.eval()
    out = []
    for s in range(0, len(images), batch):
        x = eval_transform(torch.from_numpy(np.asarray(images[s : s + batch])).to(device))
        out.append(model.image(x).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.cfg.dim), np.float32)


@torch.no_grad()
def embed_texts(model: DualEncoder, tokenizer: Tokenizer, texts: Sequence[str], device: torch.device,
                batch: int = 1024) -> np.ndarray:
    model.eval()
    ctx, pad = model.cfg.text.context_length, model.cfg.text.pad_id
    ids = torch.tensor([encode_for_context(tokenizer, t, ctx, pad).ids for t in texts], dtype=torch.int64)
    out = [model.text(ids[s : s + batch].to(device)).float().cpu().numpy() for s in range(0, len(ids), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.cfg.dim), np.float32)


class Galleries:
    """The fixed galleries of one dataset and unseen split, with embeddings cached per model."""

    def __init__(self, data: EmojiData, unseen: Sequence[str]) -> None:
        self.data = data
        self.unseen_ids = {data.index[k] for k in unseen if k in data.index}
        train_styles = data.train_styles
        self.train_images = np.concatenate([np.asarray(data.styles[s].images) for s in train_styles])
        self.train_labels = np.concatenate([data.concept_ids(s) for s in train_styles])

    def evaluate(self, model: DualEncoder, tokenizer: Tokenizer, device: torch.device,
                 styles: Optional[Sequence[str]] = None, i2i: bool = True) -> dict[str, Any]:
        data = self.data
        styles = list(styles or [data.test_style, data.val_style])
        gallery = embed_images(model, self.train_images, device) if i2i else None
        results: dict[str, Any] = {}
        for style in styles:
            role = data.styles[style].role
            labels = data.concept_ids(style)
            unseen_mask = np.array([c in self.unseen_ids for c in labels])
            images = embed_images(model, data.styles[style].images, device)
            texts = embed_texts(model, tokenizer, [query_caption(data.concepts[c]) for c in labels], device)
            res: dict[str, Any] = {"style": style, "t2i": {}, "i2i": {}}
            for kind, binary in (("float", False), ("binary", True)):
                res["t2i"][kind] = split_summary(ranks_chunked(texts, images, labels, labels, binary), unseen_mask)
                if gallery is not None:
                    ranks = ranks_chunked(images, gallery, labels, self.train_labels, binary)
                    res["i2i"][kind] = split_summary(ranks, unseen_mask)
            if gallery is None:
                del res["i2i"]
            res["gallery_sizes"] = {"t2i": int(len(images)), "i2i": int(len(self.train_labels))}
            results[role] = res
        return results


# ---------------------------------------------------------------------------------------
# EVAL.md


def _fmt(x: Any) -> str:
    return "–" if x is None else f"{x:.1f}"


def _row(name: str, res: dict[str, Any], split: str) -> str:
    t, i = res["t2i"], res.get("i2i", {})
    cells = [
        _fmt(t["float"][split]["r1"]), _fmt(t["float"][split]["r5"]),
        _fmt(t["binary"][split]["r1"]), _fmt(t["binary"][split]["r5"]),
        _fmt(i["float"][split]["r1"]) if i else "–", _fmt(i["float"][split]["r5"]) if i else "–",
        _fmt(i["binary"][split]["r1"]) if i else "–", _fmt(i["binary"][split]["r5"]) if i else "–",
    ]
    n = f"{t['float'][split]['n']}"
    return f"| {name} | {n} | " + " | ".join(cells) + " |"


def eval_markdown(report: dict[str, Any]) -> str:
    tr = report.get("training", {})
    lines = [
        f"# Evaluation: {report.get('model_id', report.get('run', ''))}",
        "",
        f"Data: `{report['data_version']}` (fingerprint `{report['data_fingerprint']}`); test style "
        f"`{report['trained']['test']['style']}` (never trained or tuned on), validation style "
        f"`{report['trained']['val']['style']}`; {report['unseen_concepts']} of "
        f"{report['concepts']} concepts held out of training (`unseen`).",
        "",
        *_warm_start_lines(tr.get("warm_start")),
        "Training: " + ", ".join(
            x for x in [
                f"{tr['epochs']:.1f} epochs" if tr.get("epochs") is not None else "",
                f"{tr['steps']} steps of {tr['batch_size']} concepts" if tr.get("steps") is not None else "",
                f"{tr['train_seconds'] / 3600:.2f} h" if tr.get("train_seconds") else "",
                f"{tr['images_per_second']:.0f} img/s" if tr.get("images_per_second") else "",
                f"preset `{tr['preset']}`" if tr.get("preset") else "",
                f"{tr['parameters']['image'] / 1e6:.2f} M + {tr['parameters']['text'] / 1e6:.2f} M parameters"
                if tr.get("parameters") else "",
            ] if x
        ) + ".",
        "",
        f"Machine: {report.get('machine', {}).get('cpu', '?')}"
        + (f", {report['machine']['cuda_device']}" if report.get("machine", {}).get("cuda_device") else "")
        + f"; torch {report.get('machine', {}).get('torch', '?')}.",
        "",
        "Recall in % (R@1 / R@5). T→I: English label → the style's images (one per concept). "
        "I→I: the style's images → every training-style image (hit: same concept). "
        "float: cosine; binary: Hamming distance of the sign bits, no rescoring.",
        "",
    ]
    for role in ("test", "val"):
        if role not in report["trained"]:
            continue
        style = report["trained"][role]["style"]
        sizes = report["trained"][role]["gallery_sizes"]
        lines += [
            f"## {role}: `{style}` (T→I gallery {sizes['t2i']}, I→I gallery {sizes['i2i']})",
            "",
            "| model | queries | T→I R@1 | T→I R@5 | T→I bin R@1 | T→I bin R@5 | I→I R@1 | I→I R@5 | I→I bin R@1 | I→I bin R@5 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for split in ("all", "seen", "unseen"):
            lines.append(_row(f"trained, {split}", report["trained"][role], split))
        if "start" in report and role in report["start"]:
            lines.append(_row(f"warm start ({report['start_version']}), all", report["start"][role], "all"))
        if "baseline" in report:
            lines.append(_row("random init, all", report["baseline"][role], "all"))
        lines.append("")
    lines += [
        "Ties (frequent with Hamming distances) are broken by gallery order (a stable sort). "
        "Produced by `training/lookbook_training/evaluate.py`.",
        "",
    ]
    return "\n".join(lines)


def _warm_start_lines(init: Optional[dict[str, Any]]) -> list[str]:
    if not init:
        return []
    src = init.get("source") or {}
    done = src.get("total_epochs") or src.get("epochs")
    hours = (src.get("total_train_seconds") or src.get("train_seconds") or 0) / 3600
    return [
        f"Warm start: the weights of `{init.get('id')}` {init.get('version')}"
        + (f" ({done:.0f} epochs, {hours:.2f} h of training)" if done else "")
        + "; the figures below are this run's own (its epochs continue from there; the "
        "`warm start` rows evaluate the starting model on the same galleries).",
        "",
    ]


def _evaluate_start(init: Optional[dict[str, Any]], model: DualEncoder, galleries: "Galleries",
                    tokenizer: Tokenizer, device: torch.device, log) -> Optional[dict[str, Any]]:
    """The warm start's model, read back from its directory while it still holds that version."""
    if not init or not init.get("dir"):
        return None
    src = Path(init["dir"])
    manifest = src / "lookbook.json"
    if not manifest.exists() or read_json(manifest).get("version") != init.get("version"):
        log(f"warm start {init.get('version')} no longer in {src}: its rows are left out")
        return None
    from .warm_start import load_from_model_dir

    start = DualEncoder(model.cfg)
    load_from_model_dir(start, src)
    return galleries.evaluate(start.to(device).eval(), tokenizer, device)


# ---------------------------------------------------------------------------------------


def evaluate_run(run_dir: Path, data_root: Optional[Path] = None, checkpoint: Optional[Path] = None,
                 baseline: bool = True, device: Optional[torch.device] = None,
                 log=print) -> dict[str, Any]:
    """Evaluates a run directory; writes ``eval.json`` and ``EVAL.md`` there."""
    run_dir = Path(run_dir)
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cfg = load_run_config(run_dir)
    tokenizer, _ = load_tokenizer(run_dir)
    model, meta = load_model(run_dir, checkpoint)
    data = EmojiData(Path(data_root or cfg.data))
    run_meta = read_json(run_dir / "run.json") if (run_dir / "run.json").exists() else {}
    unseen = run_meta.get("unseen_keys")
    if unseen is None:
        from .emoji_data import unseen_split

        unseen = unseen_split([c.key for c in data.concepts], cfg.unseen_fraction, cfg.split_seed)
    t0 = time.time()
    galleries = Galleries(data, unseen)
    trained = galleries.evaluate(model.to(device), tokenizer, device)
    report: dict[str, Any] = {
        "run": run_dir.name,
        "checkpoint": meta,
        "data_version": data.version,
        "data_fingerprint": data.fingerprint(),
        "concepts": len(data.concepts),
        "unseen_concepts": len(unseen),
        "trained": trained,
    }
    if meta.get("data_fingerprint") and meta["data_fingerprint"] != report["data_fingerprint"]:
        report["warning"] = "evaluated on different data than the run trained on"
    start = _evaluate_start(run_meta.get("init_from"), model, galleries, tokenizer, device, log)
    if start is not None:
        report["start"] = start
        report["start_version"] = run_meta["init_from"].get("version")
    if baseline:
        torch.manual_seed(cfg.seed)
        random_model = DualEncoder(model.cfg).to(device).eval()
        report["baseline"] = galleries.evaluate(random_model, tokenizer, device)
    images_seen = meta.get("images_seen") or 0
    secs = meta.get("train_seconds") or 0
    report["training"] = {
        "preset": cfg.preset,
        "epochs": run_meta.get("epochs_done", None) if meta.get("step") is None
        else meta["step"] / max(run_meta.get("steps_per_epoch", 1), 1),
        "steps": meta.get("step"),
        "batch_size": cfg.batch_size,
        "train_seconds": secs,
        "images_per_second": images_seen / secs if secs else None,
        "parameters": {"image": count_parameters(model.image), "text": count_parameters(model.text)},
        "finished": meta.get("finished", False),
        "warm_start": run_meta.get("init_from"),
    }
    report["machine"] = run_meta.get("machine") or machine_description()
    report["eval_seconds"] = round(time.time() - t0, 1)
    write_json(run_dir / "eval.json", report)
    (run_dir / "EVAL.md").write_text(eval_markdown(report), encoding="utf-8")
    log(summary_line(report))
    return report


def summary_line(report: dict[str, Any]) -> str:
    parts = []
    for role in ("test", "val"):
        r = report["trained"].get(role)
        if not r:
            continue
        t, i = r["t2i"], r.get("i2i")
        s = (f"{role}({r['style']}): T→I R@1/R@5 {_fmt(t['float']['all']['r1'])}/{_fmt(t['float']['all']['r5'])}"
             f" bin {_fmt(t['binary']['all']['r1'])}/{_fmt(t['binary']['all']['r5'])}"
             f" unseen {_fmt(t['float']['unseen']['r5'])}@5")
        if i:
            s += f"; I→I R@1 {_fmt(i['float']['all']['r1'])} bin {_fmt(i['binary']['all']['r1'])}"
        parts.append(s)
    return " | ".join(parts)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a training run on the held-out styles.")
    parser.add_argument("--run", type=Path, required=True, help="run directory (training/runs/NAME)")
    parser.add_argument("--data", type=Path, help="dataset directory (default: the run's)")
    parser.add_argument("--checkpoint", type=Path, help="a model.pt / checkpoint.pt (default: the run's)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the random-init baseline")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    evaluate_run(args.run, args.data, args.checkpoint, baseline=not args.no_baseline)
    print(f"wrote {args.run / 'eval.json'} and {args.run / 'EVAL.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
