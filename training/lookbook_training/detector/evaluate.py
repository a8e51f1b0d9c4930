"""Detector evaluation: mAP@0.5 and mAP@0.5:0.95 on fixed scenes of the held-out style.

    cd training
    OMP_NUM_THREADS=2 /usr/bin/python3 -m lookbook_training.detector.evaluate --run runs/det-v1

Protocol (``evaluate_model``):

- scenes: ``scenes.eval_generator`` — ``--count`` (1,000) fixed scenes (seed ``EVAL_SEED``) built
  only from the test style (``twitter``, never trained on), and as many from the validation
  style (``openmoji-black``);
- decoding as the service (``src/detection/yolo-decoder.ts``): the Ultralytics output
  ``[4 + C, A]``, each anchor's best class, then class-aware greedy NMS (a box is dropped only
  by a better box of its own class with IoU above the threshold);
- mAP: confidence ≥ 0.001, NMS IoU 0.7, at most 100 boxes per image (COCO's maxDets); per
  class, detections of all images sorted by score, each matched greedily to the unmatched
  ground truth of its class and image with the highest IoU ≥ t, t = 0.50, 0.55, … 0.95; AP =
  mean of the interpolated precision (running max from the right) at the 101 recalls
  0, 0.01, … 1 (COCO); the mean is over classes with ground truth;
- the service's operating point: confidence 0.25, NMS IoU 0.45, ≤ 20 boxes: precision and
  recall at IoU 0.5.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

IOU_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAP_SETTINGS = {"confidence": 0.001, "iou": 0.7, "max_det": 100}
SERVICE_SETTINGS = {"confidence": 0.25, "iou": 0.45, "max_det": 20}


# ---------------------------------------------------------------------------------------------
# Decoding and NMS


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes a [n, 4] × b [m, 4] → [n, m] (the service's formula)."""
    a = a.astype(np.float64)[:, None, :]
    b = b.astype(np.float64)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float,
        max_det: Optional[int] = None) -> np.ndarray:
    """Class-aware greedy NMS, as ``nonMaxSuppression`` in the service: boxes by score
    (descending, stable), a box kept unless a kept box of its class overlaps it with IoU > ``iou``.
    Returns the kept indices, best first."""
    order = np.argsort(-scores, kind="stable")
    if len(order) == 0:
        return order
    ious = iou_matrix(boxes[order], boxes[order])
    same = classes[order][:, None] == classes[order][None, :]
    suppress = (ious > iou) & same
    removed = np.zeros(len(order), dtype=bool)
    kept: List[int] = []
    for i in range(len(order)):
        if removed[i]:
            continue
        kept.append(i)
        if max_det is not None and len(kept) >= max_det:
            break
        removed |= suppress[i]
    return order[np.array(kept, dtype=np.int64)]


def decode_output(output: np.ndarray, confidence: float, iou: float, max_det: Optional[int]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One image's ``[4 + C, A]`` → (boxes xyxy [n, 4], scores [n], classes [n]) after the
    service's decoding (best class per anchor, ≥ confidence) and class-aware NMS."""
    scores_all = output[4:]
    classes = scores_all.argmax(0)
    scores = scores_all[classes, np.arange(output.shape[1])]
    keep = scores >= confidence
    cx, cy, w, h = (output[i, keep] for i in range(4))
    boxes = np.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), 1).reshape(-1, 4)
    scores, classes = scores[keep], classes[keep]
    idx = nms(boxes, scores, classes, iou, max_det)
    return boxes[idx], scores[idx], classes[idx]


# ---------------------------------------------------------------------------------------------
# mAP

Detections = Tuple[np.ndarray, np.ndarray, np.ndarray]  # boxes [n, 4], scores [n], classes [n]
GroundTruth = Tuple[np.ndarray, np.ndarray]  # boxes [m, 4], classes [m]


def _match(det_boxes: np.ndarray, gt_boxes: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Greedy COCO matching of one image and class; detections already sorted best first.
    Returns tp [n_det, n_thresholds] bool."""
    tp = np.zeros((len(det_boxes), len(thresholds)), dtype=bool)
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return tp
    ious = iou_matrix(det_boxes, gt_boxes)
    candidates = np.flatnonzero(ious.max(1) >= thresholds.min())
    for ti, t in enumerate(thresholds):
        matched = np.zeros(len(gt_boxes), dtype=bool)
        for d in candidates:
            row = np.where(matched, -1.0, ious[d])
            j = int(row.argmax())
            if row[j] >= t:
                tp[d, ti] = True
                matched[j] = True
    return tp


def average_precision(tp: np.ndarray, scores: np.ndarray, n_gt: int) -> np.ndarray:
    """COCO 101-point interpolated AP per threshold column of ``tp`` [n, T]."""
    if n_gt == 0:
        return np.full(tp.shape[1], np.nan)
    order = np.argsort(-scores, kind="mergesort")
    tp = tp[order]
    tpc = np.cumsum(tp, 0).astype(np.float64)
    fpc = np.cumsum(~tp, 0).astype(np.float64)
    out = np.zeros(tp.shape[1])
    for t in range(tp.shape[1]):
        if len(tp) == 0:
            continue
        recall = tpc[:, t] / n_gt
        precision = tpc[:, t] / np.maximum(tpc[:, t] + fpc[:, t], np.finfo(np.float64).eps)
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, RECALL_POINTS, side="left")
        q = np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0.0)
        out[t] = q.mean()
    return out


def mean_average_precision(dets: Sequence[Detections], gts: Sequence[GroundTruth], num_classes: int,
                           thresholds: np.ndarray = IOU_THRESHOLDS) -> Dict[str, Any]:
    """Per class: AP at each IoU threshold, instances, images. Detections and ground truth are
    per image, in the same order."""
    tps: List[List[np.ndarray]] = [[] for _ in range(num_classes)]
    scs: List[List[np.ndarray]] = [[] for _ in range(num_classes)]
    n_gt = np.zeros(num_classes, dtype=np.int64)
    n_img = np.zeros(num_classes, dtype=np.int64)
    for (db, ds, dc), (gb, gc) in zip(dets, gts):
        for c in range(num_classes):
            gsel = gc == c
            n_gt[c] += int(gsel.sum())
            n_img[c] += int(gsel.any())
            dsel = np.flatnonzero(dc == c)
            if len(dsel) == 0:
                continue
            dsel = dsel[np.argsort(-ds[dsel], kind="stable")]
            tps[c].append(_match(db[dsel], gb[gsel], thresholds))
            scs[c].append(ds[dsel])
    ap = np.full((num_classes, len(thresholds)), np.nan)
    for c in range(num_classes):
        tp = np.concatenate(tps[c]) if tps[c] else np.zeros((0, len(thresholds)), dtype=bool)
        sc = np.concatenate(scs[c]) if scs[c] else np.zeros(0)
        ap[c] = average_precision(tp, sc, int(n_gt[c]))
    valid = n_gt > 0
    return {
        "ap": ap,
        "ap50": ap[:, 0],
        "ap50_95": ap.mean(1),
        "map50": float(np.mean(ap[valid, 0])) if valid.any() else float("nan"),
        "map50_95": float(np.mean(ap[valid].mean(1))) if valid.any() else float("nan"),
        "instances": n_gt,
        "images": n_img,
    }


def precision_recall(dets: Sequence[Detections], gts: Sequence[GroundTruth], num_classes: int,
                     iou: float = 0.5) -> Dict[str, np.ndarray]:
    """Per class precision and recall of a fixed set of detections at IoU ``iou``."""
    tp = np.zeros(num_classes)
    n_det = np.zeros(num_classes)
    n_gt = np.zeros(num_classes)
    for (db, ds, dc), (gb, gc) in zip(dets, gts):
        for c in range(num_classes):
            dsel = np.flatnonzero(dc == c)
            dsel = dsel[np.argsort(-ds[dsel], kind="stable")]
            n_det[c] += len(dsel)
            n_gt[c] += int((gc == c).sum())
            tp[c] += _match(db[dsel], gb[gc == c], np.array([iou])).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"precision": np.where(n_det > 0, tp / np.maximum(n_det, 1), np.nan),
                "recall": np.where(n_gt > 0, tp / np.maximum(n_gt, 1), np.nan),
                "tp": tp, "detections": n_det, "instances": n_gt,
                "all_precision": np.array(tp.sum() / max(n_det.sum(), 1)),
                "all_recall": np.array(tp.sum() / max(n_gt.sum(), 1))}


# ---------------------------------------------------------------------------------------------
# Model evaluation


@torch.no_grad()
def predict_scenes(net, gen, count: int, device: torch.device, batch_size: int = 32,
                   start: int = 0) -> Tuple[List[np.ndarray], List[GroundTruth]]:
    """Raw outputs [4 + C, A] and ground truth of scenes ``start`` … ``start + count - 1``."""
    net.eval()
    outputs, gts = [], []
    for lo in range(start, start + count, batch_size):
        scenes = [gen.scene(i) for i in range(lo, min(lo + batch_size, start + count))]
        x = torch.from_numpy(np.stack([s.image for s in scenes])).to(device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        out = net.predict(x).float().cpu().numpy()
        outputs.extend(out)
        gts.extend((s.boxes, s.classes) for s in scenes)
    return outputs, gts


def evaluate_outputs(outputs: Sequence[np.ndarray], gts: Sequence[GroundTruth], names: Sequence[str]) -> Dict[str, Any]:
    nc = len(names)
    dets = [decode_output(o, MAP_SETTINGS["confidence"], MAP_SETTINGS["iou"], MAP_SETTINGS["max_det"]) for o in outputs]
    m = mean_average_precision(dets, gts, nc)
    op_dets = [decode_output(o, SERVICE_SETTINGS["confidence"], SERVICE_SETTINGS["iou"], SERVICE_SETTINGS["max_det"])
               for o in outputs]
    pr = precision_recall(op_dets, gts, nc)

    def num(x) -> Optional[float]:
        x = float(x)
        return None if np.isnan(x) else round(x, 4)

    per_class = [
        {"class": names[c], "instances": int(m["instances"][c]), "images": int(m["images"][c]),
         "ap50": num(m["ap50"][c]), "ap50_95": num(m["ap50_95"][c]),
         "precision": num(pr["precision"][c]), "recall": num(pr["recall"][c])}
        for c in range(nc)
    ]
    return {
        "scenes": len(outputs),
        "instances": int(m["instances"].sum()),
        "map50": num(m["map50"]),
        "map50_95": num(m["map50_95"]),
        "precision": num(pr["all_precision"]),
        "recall": num(pr["all_recall"]),
        "per_class": per_class,
    }


def evaluate_model(net, gens: Dict[str, Any], count: int, device: torch.device,
                   log: Callable[[str], None] = print, batch_size: int = 32) -> Dict[str, Any]:
    """``gens``: style → fixed scene generator. Returns {style: results}."""
    names = next(iter(gens.values())).pool.classes.names
    out: Dict[str, Any] = {}
    for style, gen in gens.items():
        t0 = time.time()
        outputs, gts = predict_scenes(net, gen, count, device, batch_size)
        res = evaluate_outputs(outputs, gts, names)
        res["seconds"] = round(time.time() - t0, 1)
        out[style] = res
        log(f"eval {style}: {res['scenes']} scenes, {res['instances']} objects: mAP50 {res['map50']} "
            f"mAP50-95 {res['map50_95']} (P {res['precision']} R {res['recall']} at conf 0.25) "
            f"[{res['seconds']} s]")
    return out


# ---------------------------------------------------------------------------------------------
# Files


def _fmt(x: Optional[float], pct: bool = True) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}" if pct else f"{x:.3f}"


def eval_markdown(report: Dict[str, Any]) -> str:
    run, res = report["run"], report["results"]
    test, val = report["test_style"], report.get("val_style")
    machine = run.get("machine", {})
    device = machine.get("cuda_device") or f"CPU ({machine.get('cpu', '?')}, torch threads: {machine.get('torch_threads', '?')})"
    seconds = run.get("train_seconds") or 0
    lines = [
        f"# {report.get('model', 'lookbook-detector')}: evaluation",
        "",
        f"Anchor-free YOLOv8-style detector ({run.get('preset')} preset, {run.get('parameters', 0) / 1e6:.2f} M "
        f"parameters, input {run.get('image_size')}×{run.get('image_size')}), "
        f"{'trained from scratch' if not run.get('init_from') else 'warm-started from ' + str(run['init_from'].get('version')) + ' and trained'} on synthetic "
        f"scenes of the `{report.get('data', 'emoji-v1')}` training styles "
        f"({', '.join(run.get('train_styles', []))}).",
        "",
        f"- training: {run.get('steps')} steps of {run.get('batch_size')} scenes "
        f"({run.get('epochs', 0):.1f} epochs of {run.get('scenes_per_epoch')} scenes, "
        f"{run.get('scenes_seen', 0):,} scenes"
        + (f"; data echoing: {run['batches']} batches of new scenes, each trained on "
           f"{run['steps'] / max(run['batches'], 1):.2f} times on average, the repeats mirrored at random"
           if run.get("batches") and run["batches"] != run.get("steps") else "")
        + f"), {seconds / 60:.1f} min ({seconds:.0f} s) of training on {device}"
        + (" (finished)" if run.get("finished") else " (**not finished**: a checkpoint)"),
        f"- torch {machine.get('torch', '?')}, {machine.get('platform', '?')}",
        f"- evaluation: {res[test]['scenes']} fixed scenes (seed {report.get('eval_seed')}) of the held-out "
        f"style `{test}` ({res[test]['instances']} objects, 1–8 per scene plus unlabelled distractor emoji); "
        f"{report.get('weights', 'EMA weights')}; the service's decoding; COCO 101-point AP; mAP over the classes",
        "",
        "Results in %:",
        "",
        "| style | scenes | objects | mAP@0.5 | mAP@0.5:0.95 | P @ conf 0.25 | R @ conf 0.25 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for style, role in ((test, "test"), (val, "val")):
        if style and style in res:
            r = res[style]
            lines.append(f"| `{style}` ({role}) | {r['scenes']} | {r['instances']} | {_fmt(r['map50'])} | "
                         f"{_fmt(r['map50_95'])} | {_fmt(r['precision'])} | {_fmt(r['recall'])} |")
    lines += [
        "",
        f"Per class, test style `{test}` (%; P and R at the service's defaults: confidence 0.25, NMS IoU 0.45, IoU 0.5 match):",
        "",
        "| class | instances | AP@0.5 | AP@0.5:0.95 | P | R |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in res[test]["per_class"]:
        lines.append(f"| {row['class']} | {row['instances']} | {_fmt(row['ap50'])} | {_fmt(row['ap50_95'])} | "
                     f"{_fmt(row['precision'])} | {_fmt(row['recall'])} |")
    lines += [
        "",
        "mAP: confidence ≥ 0.001, class-aware NMS at IoU 0.7, ≤ 100 boxes per scene. Boxes are the tight "
        "boxes of the pasted emoji (alpha ≥ 32), so AP@0.5:0.95 measures pixel-exact localization. "
        "Concepts are shared between training and test; only the drawing style is held out.",
        "",
    ]
    return "\n".join(lines)


def write_report(report: Dict[str, Any], out_dir: Path) -> None:
    out_dir = Path(out_dir)
    (out_dir / "eval.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out_dir / "EVAL.md").write_text(eval_markdown(report), encoding="utf-8")


def evaluate_run(run_dir: Path, count: int = 1000, device: Optional[torch.device] = None,
                 checkpoint: Optional[Path] = None, log: Callable[[str], None] = print,
                 onnx_path: Optional[Path] = None) -> Dict[str, Any]:
    """Evaluates a run's EMA weights — or, with ``onnx_path``, the weights of the run's exported
    graph (float16-stored weights as the graph computes with them) — on the fixed test- and
    validation-style scenes; writes ``eval.json`` and ``EVAL.md`` into the run directory."""
    from ..dataset import EmojiDataset
    from .scenes import EVAL_SEED, STREAM_TEST, STREAM_VAL, class_set_for, eval_generator
    from .train import load_detector, read_run

    run_dir = Path(run_dir)
    device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cfg, meta = read_run(run_dir)
    net, state = load_detector(run_dir, checkpoint)
    weights = "the run's EMA weights"
    if onnx_path is not None:
        from .export import load_exported, read_metadata

        net = load_exported(onnx_path, net.cfg)
        weights = (f"the weights of the exported graph `{Path(onnx_path).name}` "
                   f"({read_metadata(onnx_path).get('lookbook_version')}), read back as it computes with them")
    net.to(device)
    ds = EmojiDataset(cfg.data)
    classes = class_set_for(ds)
    gens = {ds.test_style: eval_generator(ds, ds.test_style, cfg.image_size, classes, STREAM_TEST)}
    if ds.val_style:
        gens[ds.val_style] = eval_generator(ds, ds.val_style, cfg.image_size, classes, STREAM_VAL)
    results = evaluate_model(net, gens, count, device, log)
    run = dict(meta)
    run.update({k: state.get(k) for k in ("steps", "batches", "epochs", "scenes_seen", "train_seconds", "finished")})
    run["machine"] = state.get("machine") or meta.get("machine", {})
    report = {
        "model": "lookbook-detector",
        "data": ds.manifest.get("name"),
        "names": list(classes.names),
        "test_style": ds.test_style,
        "val_style": ds.val_style,
        "eval_seed": EVAL_SEED,
        "count": count,
        "settings": {"map": MAP_SETTINGS, "service": SERVICE_SETTINGS},
        "checkpoint": state.get("file"),
        "weights": weights,
        "run": run,
        "results": results,
    }
    write_report(report, run_dir)
    log(f"wrote {run_dir / 'eval.json'} and {run_dir / 'EVAL.md'}")
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a detector run on the fixed held-out-style scenes.")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1000, help="scenes per style")
    parser.add_argument("--checkpoint", type=Path, help="default: model.pt, else checkpoint.pt")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--onnx", type=Path,
                        help="evaluate this export of the run instead (e.g. ../models/lookbook-detector/model.onnx: "
                             "its float16-stored weights as the graph computes with them)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    evaluate_run(args.run, args.count, checkpoint=args.checkpoint, onnx_path=args.onnx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
