"""Synthetic detection scenes: product emoji composited onto varied backgrounds.

    cd training
    # the fixed evaluation scenes of the test style, as PNG + ground truth (git-ignored)
    OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.detector.scenes --count 50
    # → training/data/scenes-eval/{scene-0000.png, …, index.json}

Classes are the dataset's product categories (``dataset.product_category``, from CLDR
subgroups) merged into 14 detector classes (``CATEGORY_CLASS``). Emoji of other concepts
(faces, animals, flags, symbols…) appear as unlabelled distractors: the detector must not
fire on them.

A scene is a deterministic function of (seed, stream, index) (``SceneGenerator.scene``):

- canvas ``size`` × ``size``; with ``p_letterbox`` the content is a ``size`` × h (or
  w × ``size``) band, h/size in [0.5, 0.95], centred with grey 114 around it exactly as the
  service's letterbox (``src/detection/yolo-decoder.ts``) places a non-square image;
- background of the content region: solid (often near-white), linear gradient, smooth
  colour noise (+ fine noise), stripes, checkerboard, or random rectangles/ellipses;
- 1–8 labelled objects plus up to 2 distractors, in random stacking order: the emoji cropped
  to its alpha, scaled so its longest side is log-uniform in [``min_size``, ``max_size``] × size
  (24–160 px at 256; smaller in crowded scenes), aspect jitter ±10 %, horizontal flip (p 0.5),
  placed anywhere (with ``p_edge`` partly outside the content region);
- occlusion limit: every labelled object keeps ≥ ``min_visible`` (60 %) of its opaque pixels
  (alpha ≥ 128) visible — inside the content region and not covered by later objects; a
  placement that would break this for any labelled object is retried (up to 12 times), then
  the object is dropped;
- box = tight bounding box, in canvas pixels (x1, y1 inclusive; x2, y2 exclusive), of the
  pixels of the pasted emoji with alpha ≥ ``BOX_ALPHA`` (32) — the amodal box of what was
  pasted, including parts later covered by other objects;
- training scenes (``photometric=True``) also get brightness / contrast jitter and sensor noise
  on the content region.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ..dataset import EmojiDataset, product_category

# ---------------------------------------------------------------------------------------------
# Classes

CLASS_NAMES: Tuple[str, ...] = (
    "clothing", "shoes", "bags", "accessories", "food", "drink", "home", "sport",
    "toys-games", "tools", "office", "electronics", "musical-instruments", "vehicles",
)
# dataset product category → detector class. Categories with < ~10 concepts join a neighbour,
# so that every class has enough distinct objects to learn from and to evaluate on.
CATEGORY_CLASS: Dict[str, str] = {
    "clothing": "clothing",
    "shoes": "shoes",
    "bags": "bags",
    "accessories": "accessories",
    "eyewear": "accessories",  # glasses, sunglasses, goggles (3 concepts)
    "food": "food",
    "drink": "drink",
    "kitchenware": "home",  # dishware (7)
    "household": "home",
    "furniture": "home",  # couch and lamp, bed, chair, mirror, file cabinet (5)
    "health": "home",  # syringe, pill, bandage, stethoscope, crutch (5)
    "sport": "sport",
    "toys-games": "toys-games",
    "tools": "tools",
    "office": "office",
    "electronics": "electronics",
    "musical-instruments": "musical-instruments",
    "vehicles": "vehicles",
}
# Groups whose non-product concepts are used as distractors (not 'component': skin tones, hair).
DISTRACTOR_EXCLUDED_GROUPS = ("component", None)

# The synthetic smoke dataset (synthetic_data.py) draws coloured shapes: six are classes, the
# arrow and the cross are distractors.
SHAPE_CLASS_NAMES: Tuple[str, ...] = ("circle", "square", "triangle", "star", "heart", "diamond")

BOX_ALPHA = 32  # a pixel belongs to the box when its pasted alpha is >= this
SOLID_ALPHA = 128  # opaque pixels: the occlusion limit counts these
PAD_VALUE = 114  # letterbox grey (Ultralytics, the service)


@dataclass(frozen=True)
class ClassSet:
    """Detector classes and the rule that maps a concept to one (or to None: distractor)."""

    names: Tuple[str, ...]
    kind: str = "products"  # "products" (emoji-v1) or "shapes" (synthetic smoke data)

    def class_of(self, concept: dict) -> Optional[int]:
        if self.kind == "products":
            category = product_category(concept)
            name = CATEGORY_CLASS.get(category) if category else None
        elif self.kind == "shapes":
            name = concept["label"].split(" ")[-1]
        else:
            raise ValueError(self.kind)
        return self.names.index(name) if name in self.names else None

    def is_distractor(self, concept: dict) -> bool:
        if self.class_of(concept) is not None:
            return False
        if self.kind == "products":
            return concept.get("group") not in DISTRACTOR_EXCLUDED_GROUPS
        return True

    def names_dict(self) -> Dict[int, str]:
        return dict(enumerate(self.names))


PRODUCT_CLASSES = ClassSet(CLASS_NAMES, "products")
SHAPE_CLASSES = ClassSet(SHAPE_CLASS_NAMES, "shapes")


def class_set_for(ds: EmojiDataset) -> ClassSet:
    """The product classes for emoji-v1; the shape classes for the synthetic dataset."""
    return SHAPE_CLASSES if ds.manifest.get("name") == "synthetic" else PRODUCT_CLASSES


# ---------------------------------------------------------------------------------------------
# Source images


class SourcePool:
    """The emoji a scene may use: per class, its concepts and each concept's images in
    ``styles``; and the distractor images. Images stay in the dataset's (memory-mapped)
    arrays and are cropped to their alpha when used."""

    def __init__(self, ds: EmojiDataset, styles: Sequence[str], classes: ClassSet, distractors: bool = True):
        self.styles = list(styles)
        self.classes = classes
        self.arrays = [ds.style(s).images for s in self.styles]
        per_class: List[Dict[str, List[Tuple[int, int]]]] = [dict() for _ in classes.names]
        distractor_items: List[Tuple[int, int]] = []
        for si, name in enumerate(self.styles):
            style = ds.style(name)
            for row, key in enumerate(style.keys):
                concept = ds.by_key[key]
                cid = classes.class_of(concept)
                if cid is not None:
                    per_class[cid].setdefault(key, []).append((si, row))
                elif distractors and classes.is_distractor(concept):
                    distractor_items.append((si, row))
        missing = [classes.names[i] for i, c in enumerate(per_class) if not c]
        if missing:
            raise ValueError(f"styles {self.styles}: no images of classes {missing}")
        # per class: list of concepts (sorted keys), each an int array of (style, row)
        self.concept_keys: List[List[str]] = [sorted(c) for c in per_class]
        self.items: List[List[np.ndarray]] = [
            [np.array(c[k], dtype=np.int64) for k in keys] for c, keys in zip(per_class, self.concept_keys)
        ]
        self.distractors = np.array(distractor_items, dtype=np.int64).reshape(-1, 2)

    def counts(self) -> Dict[str, Dict[str, int]]:
        return {
            name: {"concepts": len(keys), "images": int(sum(len(x) for x in items))}
            for name, keys, items in zip(self.classes.names, self.concept_keys, self.items)
        }

    def crop(self, si: int, row: int) -> np.ndarray:
        """The RGBA image cropped to its pixels with alpha > 0."""
        img = np.asarray(self.arrays[si][row])
        alpha = img[:, :, 3] > 0
        rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
        if len(rows) == 0:
            return img
        return img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    def pick(self, rng: np.random.Generator, cid: int) -> Tuple[np.ndarray, str]:
        """A random image of class ``cid`` (uniform over concepts, then styles), or of a
        distractor (``cid`` = -1)."""
        if cid < 0:
            si, row = self.distractors[rng.integers(len(self.distractors))]
            return self.crop(int(si), int(row)), ""
        k = int(rng.integers(len(self.items[cid])))
        choices = self.items[cid][k]
        si, row = choices[rng.integers(len(choices))]
        return self.crop(int(si), int(row)), self.concept_keys[cid][k]


# ---------------------------------------------------------------------------------------------
# Backgrounds


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, 3).astype(np.float32)


def _coords(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


BACKGROUNDS = ("solid", "gradient", "noise", "stripes", "checker", "shapes")


def background(rng: np.random.Generator, h: int, w: int, kind: Optional[str] = None) -> np.ndarray:
    """float32 [h, w, 3] in 0..255."""
    kind = kind or BACKGROUNDS[int(rng.choice(len(BACKGROUNDS), p=[0.22, 0.2, 0.18, 0.14, 0.12, 0.14]))]
    if kind == "solid":
        c = rng.uniform(235, 255, 3).astype(np.float32) if rng.random() < 0.35 else _colour(rng)
        return np.broadcast_to(c, (h, w, 3)).copy()
    a, b = _colour(rng), _colour(rng)
    if kind == "gradient":
        xx, yy = _coords(h, w)
        theta = rng.uniform(0, 2 * math.pi)
        t = xx * math.cos(theta) + yy * math.sin(theta)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        return a + (b - a) * t[:, :, None]
    if kind == "noise":
        gh, gw = int(rng.integers(2, 12)), int(rng.integers(2, 12))
        grid = rng.integers(0, 256, (gh, gw, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(grid, "RGB").resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32)
        sigma = rng.uniform(0, 24)
        return smooth + sigma * rng.standard_normal((h, w, 3), dtype=np.float32) if sigma > 2 else smooth
    if kind == "stripes":
        xx, yy = _coords(h, w)
        theta = rng.uniform(0, math.pi)
        period = rng.uniform(6, 64)
        t = (xx * math.cos(theta) + yy * math.sin(theta)) / period + rng.uniform(0, 1)
        on = (t - np.floor(t)) < rng.uniform(0.3, 0.7)
        return np.where(on[:, :, None], a, b)
    if kind == "checker":
        xx, yy = _coords(h, w)
        cell = rng.uniform(8, 64)
        on = ((np.floor((xx + rng.uniform(0, cell)) / cell) + np.floor((yy + rng.uniform(0, cell)) / cell)) % 2) == 0
        return np.where(on[:, :, None], a, b)
    if kind == "shapes":
        img = Image.new("RGB", (w, h), tuple(int(v) for v in a))
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(4, 20))):
            x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
            x1, y1 = x0 + rng.uniform(0.05, 0.5) * w, y0 + rng.uniform(0.05, 0.5) * h
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=fill)
        return np.asarray(img, dtype=np.float32)
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Scenes


@dataclass
class SceneConfig:
    size: int = 256
    min_objects: int = 1
    max_objects: int = 8
    min_size: float = 24 / 256  # longest side of an object, as a fraction of size
    max_size: float = 160 / 256
    min_visible: float = 0.6
    p_distractors: float = 0.5  # probability of 1..max_distractors distractors
    max_distractors: int = 2
    p_flip: float = 0.5
    p_letterbox: float = 0.25
    p_edge: float = 0.15  # an object may extend past the content region
    aspect_jitter: float = 0.1
    photometric: bool = False  # brightness/contrast/noise (training scenes)
    tries: int = 12

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Scene:
    image: np.ndarray  # uint8 [S, S, 3] RGB
    boxes: np.ndarray  # float32 [n, 4] x1, y1, x2, y2 in canvas pixels
    classes: np.ndarray  # int64 [n]
    content: Tuple[int, int, int, int]  # left, top, width, height of the non-padded region
    keys: List[str] = field(default_factory=list)  # concept key of each box
    layers: Optional[List[np.ndarray]] = None  # debug: per box, the pasted alpha [S, S] uint8


def letterbox_offsets(width: int, height: int, size: int) -> Tuple[int, int]:
    """(pad_left, pad_top) of a width × height image (already at scale) in the service's
    letterbox: round(d - 0.1), as Ultralytics."""
    return max(0, round((size - width) / 2 - 0.1)), max(0, round((size - height) / 2 - 0.1))


def _tight(alpha: np.ndarray, threshold: int) -> Optional[Tuple[int, int, int, int]]:
    mask = alpha >= threshold
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if len(rows) == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


class SceneGenerator:
    """``scene(index)``: scene number ``index`` of the stream ``(seed, stream)``."""

    def __init__(self, pool: SourcePool, cfg: SceneConfig, seed: int = 0, stream: int = 0):
        self.pool, self.cfg, self.seed, self.stream = pool, cfg, seed, stream

    @property
    def num_classes(self) -> int:
        return len(self.pool.classes.names)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.stream, index])

    def scene(self, index: int, debug: bool = False) -> Scene:
        cfg, rng = self.cfg, self.rng(index)
        S = cfg.size
        cw = ch = S
        if rng.random() < cfg.p_letterbox:
            short = max(16, int(round(S * rng.uniform(0.5, 0.95))))
            cw, ch = (S, short) if rng.random() < 0.5 else (short, S)
        left, top = letterbox_offsets(cw, ch, S)
        content = background(rng, ch, cw)
        owner = np.full((ch, cw), -1, dtype=np.int32)
        n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
        n_distract = int(rng.integers(1, cfg.max_distractors + 1)) if (
            len(self.pool.distractors) and cfg.max_distractors > 0 and rng.random() < cfg.p_distractors) else 0
        kinds = [int(rng.integers(self.num_classes)) for _ in range(n)] + [-1] * n_distract
        kinds = [kinds[i] for i in rng.permutation(len(kinds))]
        lo = cfg.min_size * S
        hi_all = min(cfg.max_size * S, 0.95 * min(cw, ch))
        hi_crowd = max(min(lo * 1.5, hi_all), min(hi_all, 0.8 * S / math.sqrt(len(kinds))))
        total: List[int] = []  # opaque pixels of each placed object
        visible: List[int] = []
        labelled: List[bool] = []
        boxes, classes, keys, layers = [], [], [], []
        for kind in kinds:
            crop, key = self.pool.pick(rng, kind)
            hi = hi_all if rng.random() < 0.25 else hi_crowd
            flip = rng.random() < cfg.p_flip
            for _ in range(cfg.tries):
                size = math.exp(rng.uniform(math.log(lo), math.log(max(hi, lo))))
                aspect = math.exp(rng.uniform(-cfg.aspect_jitter, cfg.aspect_jitter))
                h0, w0 = crop.shape[:2]
                scale = size / max(h0 * aspect, w0 / aspect)
                w = max(1, int(round(w0 / aspect * scale)))
                h = max(1, int(round(h0 * aspect * scale)))
                if rng.random() < cfg.p_edge:  # up to ~40 % of the object past an edge
                    x0 = int(rng.integers(-int(0.4 * w), max(cw - int(0.6 * w), -int(0.4 * w)) + 1))
                    y0 = int(rng.integers(-int(0.4 * h), max(ch - int(0.6 * h), -int(0.4 * h)) + 1))
                else:
                    x0 = int(rng.integers(0, max(cw - w, 0) + 1))
                    y0 = int(rng.integers(0, max(ch - h, 0) + 1))
                # the part inside the content region
                sx0, sy0 = max(0, -x0), max(0, -y0)
                sx1, sy1 = min(w, cw - x0), min(h, ch - y0)
                if sx1 - sx0 < 2 or sy1 - sy0 < 2:
                    continue
                rgba = np.asarray(Image.fromarray(crop, "RGBA").resize((w, h), Image.Resampling.BILINEAR))
                if flip:
                    rgba = rgba[:, ::-1]
                solid = rgba[:, :, 3] >= SOLID_ALPHA
                n_solid = int(solid.sum())
                if n_solid == 0:
                    break
                part = solid[sy0:sy1, sx0:sx1]
                inside = int(part.sum())
                is_labelled = kind >= 0
                if is_labelled and inside < cfg.min_visible * n_solid:
                    continue
                region = owner[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
                covered = np.bincount(region[part] + 1, minlength=len(total) + 1)[1:]
                ok = all(not labelled[j] or visible[j] - covered[j] >= cfg.min_visible * total[j]
                         for j in range(len(total)))
                if not ok:
                    continue
                alpha = rgba[sy0:sy1, sx0:sx1, 3]
                box = _tight(alpha, BOX_ALPHA) if is_labelled else (0, 0, 1, 1)
                if box is None or box[2] - box[0] < 2 or box[3] - box[1] < 2:
                    continue
                # paste (straight alpha over the content)
                a = alpha.astype(np.float32)[:, :, None] / 255.0
                dst = content[y0 + sy0:y0 + sy1, x0 + sx0:x0 + sx1]
                dst *= 1.0 - a
                dst += rgba[sy0:sy1, sx0:sx1, :3].astype(np.float32) * a
                for j in range(len(total)):
                    visible[j] -= int(covered[j])
                region[part] = len(total)
                total.append(n_solid)
                visible.append(inside)
                labelled.append(is_labelled)
                if is_labelled:
                    ox, oy = left + x0 + sx0, top + y0 + sy0
                    boxes.append((box[0] + ox, box[1] + oy, box[2] + ox, box[3] + oy))
                    classes.append(kind)
                    keys.append(key)
                    if debug:
                        layer = np.zeros((S, S), dtype=np.uint8)
                        layer[oy:oy + alpha.shape[0], ox:ox + alpha.shape[1]] = alpha
                        layers.append(layer)
                break
        if cfg.photometric:
            content = self._photometric(rng, content)
        image = np.full((S, S, 3), PAD_VALUE, dtype=np.uint8)
        image[top:top + ch, left:left + cw] = np.clip(np.rint(content), 0, 255).astype(np.uint8)
        return Scene(
            image=image,
            boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
            classes=np.array(classes, dtype=np.int64),
            content=(left, top, cw, ch),
            keys=keys,
            layers=layers if debug else None,
        )

    @staticmethod
    def _photometric(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
        brightness = rng.uniform(0.8, 1.2)
        contrast = rng.uniform(0.8, 1.2)
        mean = float(x.mean())
        x = (x - mean) * contrast + mean * brightness
        if rng.random() < 0.3:
            x = x + rng.uniform(2, 10) * rng.standard_normal(x.shape, dtype=np.float32)
        return x


# ---------------------------------------------------------------------------------------------
# Fixed evaluation scenes

EVAL_SEED = 20240917
STREAM_TRAIN, STREAM_VAL, STREAM_TEST = 0, 1, 2


def eval_generator(ds: EmojiDataset, style: str, size: int = 256, classes: Optional[ClassSet] = None,
                   stream: int = STREAM_TEST) -> SceneGenerator:
    """The fixed evaluation scenes of one style (seed ``EVAL_SEED``, no photometric jitter)."""
    classes = classes or class_set_for(ds)
    pool = SourcePool(ds, [style], classes)
    return SceneGenerator(pool, SceneConfig(size=size), seed=EVAL_SEED, stream=stream)


def save_scenes(gen: SceneGenerator, count: int, out: Path, start: int = 0) -> Path:
    """Writes scenes ``start`` … ``start + count - 1`` as PNG (the content region only: what a
    user would upload; the service's letterbox puts it back exactly where the model saw it)
    and ``index.json`` with the ground truth in the PNG's pixels."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = gen.pool.classes.names
    entries = []
    for i in range(start, start + count):
        sc = gen.scene(i)
        left, top, w, h = sc.content
        file = f"scene-{i:04d}.png"
        Image.fromarray(sc.image[top:top + h, left:left + w]).save(out / file, optimize=False)
        objects = [
            {"label": names[int(c)], "class_id": int(c), "concept": k,
             "bbox": [float(b[0] - left), float(b[1] - top), float(b[2] - left), float(b[3] - top)]}
            for b, c, k in zip(sc.boxes, sc.classes, sc.keys)
        ]
        entries.append({"file": file, "index": i, "width": w, "height": h, "objects": objects})
    index = {
        "generator": "lookbook_training.detector.scenes",
        "style": gen.pool.styles,
        "seed": gen.seed,
        "stream": gen.stream,
        "scene_config": gen.cfg.to_dict(),
        "names": {str(k): v for k, v in gen.pool.classes.names_dict().items()},
        "bbox_format": "x1, y1, x2, y2 in pixels of the PNG (x2, y2 exclusive)",
        "scenes": entries,
    }
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description="Write the fixed evaluation scenes as PNG + index.json.")
    parser.add_argument("--data", type=Path, default=root / "data" / "emoji-v1")
    parser.add_argument("--out", type=Path, default=root / "data" / "scenes-eval")
    parser.add_argument("--style", help="default: the dataset's test style")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    ds = EmojiDataset(args.data)
    style = args.style or ds.test_style
    gen = eval_generator(ds, style, args.size)
    out = save_scenes(gen, args.count, args.out)
    print(f"wrote {args.count} scenes of {style} to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
