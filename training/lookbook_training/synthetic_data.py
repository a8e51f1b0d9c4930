"""A tiny synthetic dataset in the emoji dataset format, for the smoke run and the tests.

Concepts are coloured shapes ("red circle", "blue arrow"…); each "style" draws them
differently (filled, outlined, black outline only, shaded, smaller…), as the emoji sets
draw the same concept. Written exactly as the real dataset (``training/data/emoji-v1``):

- ``manifest.json``: the styles and their roles (train / val / test);
- ``concepts.json``: sorted array of {key, emoji, label, tags, group, subgroup, i18n};
- ``styles/<style>.npy`` uint8 [N, 64, 64, 4] RGBA and ``styles/<style>.keys.json``;
- ``LICENSES.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {
    "red": (220, 40, 40),
    "blue": (40, 80, 220),
    "green": (40, 170, 60),
    "yellow": (240, 210, 30),
    "purple": (140, 50, 180),
    "orange": (245, 140, 20),
    "pink": (240, 120, 180),
    "brown": (130, 80, 40),
}
SHAPES = ("circle", "square", "triangle", "star", "heart", "diamond", "arrow", "cross")
SHAPE_TAGS = {
    "circle": ["round", "ball"],
    "square": ["box", "block"],
    "triangle": ["pyramid", "point"],
    "star": ["night", "sparkle"],
    "heart": ["love", "card"],
    "diamond": ["gem", "jewel"],
    "arrow": ["direction", "right"],
    "cross": ["plus", "mark"],
}
GERMAN = {
    "red": "rot", "blue": "blau", "green": "grün", "yellow": "gelb", "purple": "lila",
    "orange": "orange", "pink": "rosa", "brown": "braun", "circle": "Kreis",
    "square": "Quadrat", "triangle": "Dreieck", "star": "Stern", "heart": "Herz",
    "diamond": "Raute", "arrow": "Pfeil", "cross": "Kreuz",
}
FRENCH = {
    "red": "rouge", "blue": "bleu", "green": "vert", "yellow": "jaune", "purple": "violet",
    "orange": "orange", "pink": "rose", "brown": "marron", "circle": "cercle",
    "square": "carré", "triangle": "triangle", "star": "étoile", "heart": "cœur",
    "diamond": "losange", "arrow": "flèche", "cross": "croix",
}
STYLES = {
    "google": "train",
    "twitter": "test",
    "openmoji-color": "train",
    "openmoji-black": "val",
    "fluent-color": "train",
    "fluent-flat": "train",
    "fluent-hc": "train",
    "fluent-3d": "train",
}


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r * 0.7, cy), (cx, cy + r), (cx - r * 0.7, cy)]
    if shape == "star":
        pts = []
        for i in range(10):
            rad = r if i % 2 == 0 else r * 0.45
            a = -math.pi / 2 + i * math.pi / 5
            pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
        return pts
    if shape == "arrow":  # points right
        return [(cx - r, cy - r * 0.3), (cx + r * 0.1, cy - r * 0.3), (cx + r * 0.1, cy - r * 0.8),
                (cx + r, cy), (cx + r * 0.1, cy + r * 0.8), (cx + r * 0.1, cy + r * 0.3),
                (cx - r, cy + r * 0.3)]
    if shape == "cross":
        t = r * 0.35
        return [(cx - t, cy - r), (cx + t, cy - r), (cx + t, cy - t), (cx + r, cy - t),
                (cx + r, cy + t), (cx + t, cy + t), (cx + t, cy + r), (cx - t, cy + r),
                (cx - t, cy + t), (cx - r, cy + t), (cx - r, cy - t), (cx - t, cy - t)]
    if shape == "heart":
        pts = []
        for i in range(24):
            t = 2 * math.pi * i / 24
            x = 16 * math.sin(t) ** 3
            y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
            pts.append((cx + x * r / 17, cy - y * r / 17))
        return pts
    raise ValueError(shape)


def draw(shape: str, colour: tuple[int, int, int], style: str, rng: np.random.RandomState) -> np.ndarray:
    """One 64×64 RGBA image of ``shape`` in ``style``."""
    scale = 4  # draw large, downsample: anti-aliased edges and partial alpha, like the PNGs
    size = 64 * scale
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    radius = {"fluent-flat": 18, "twitter": 24, "fluent-3d": 25}.get(style, 22) * scale
    cx = cy = size / 2 + rng.randint(-2, 3) * scale
    fill = (*colour, 255)
    dark = tuple(int(c * 0.45) for c in colour) + (255,)
    outline, width, fill_colour = None, 0, fill
    if style == "openmoji-color":
        outline, width = (0, 0, 0, 255), 3 * scale
    elif style == "openmoji-black":
        outline, width, fill_colour = (0, 0, 0, 255), 3 * scale, None
    elif style == "fluent-hc":
        outline, width, fill_colour = fill, 4 * scale, (20, 20, 20, 255)
    elif style == "twitter":
        outline, width = dark, 2 * scale
    if shape == "circle":
        box = (cx - radius, cy - radius, cx + radius, cy + radius)
        d.ellipse(box, fill=fill_colour, outline=outline, width=width)
    else:
        pts = _polygon(shape, cx, cy, radius)
        d.polygon(pts, fill=fill_colour)
        if outline is not None:
            d.line(pts + pts[:1], fill=outline, width=width, joint="curve")
    if style in ("fluent-color", "fluent-3d"):  # a highlight and a shadow
        hl = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        ImageDraw.Draw(hl).ellipse(
            (cx - radius * 0.6, cy - radius * 0.7, cx, cy - radius * 0.1), fill=(255, 255, 255, 110)
        )
        mask = img.getchannel("A")
        hl.putalpha(Image.fromarray(np.minimum(np.asarray(hl.getchannel("A")), np.asarray(mask))))
        img = Image.alpha_composite(img, hl)
    return np.asarray(img.resize((64, 64), Image.Resampling.BOX), dtype=np.uint8)


def make_synthetic_dataset(root: Path, n_concepts: int = 40, seed: int = 0, drop: float = 0.1) -> Path:
    """Writes the dataset under ``root`` and returns ``root``."""
    rng = np.random.RandomState(seed)
    combos = [(c, s) for s in SHAPES for c in COLOURS]
    order = rng.permutation(len(combos))[:n_concepts]
    concepts = []
    for rank, idx in enumerate(sorted(order)):
        colour, shape = combos[idx]
        key = f"e{0x100 + rank:03x}"
        concepts.append(
            {
                "key": key,
                "emoji": chr(0xE000 + rank),
                "label": f"{colour} {shape}",
                "tags": [colour, shape, *SHAPE_TAGS[shape]],
                "group": "symbols",
                "subgroup": "arrow" if shape == "arrow" else "geometric",
                "i18n": {
                    "de": {"label": f"{GERMAN[colour]}er {GERMAN[shape]}", "tags": [GERMAN[colour], GERMAN[shape]]},
                    "fr": {"label": f"{FRENCH[shape]} {FRENCH[colour]}", "tags": [FRENCH[colour], FRENCH[shape]]},
                },
            }
        )
    concepts.sort(key=lambda c: c["key"])
    styles_dir = root / "styles"
    styles_dir.mkdir(parents=True, exist_ok=True)
    manifest_styles = []
    for style, role in STYLES.items():
        keys, images = [], []
        for c in concepts:
            # Every concept is in the test style; others drop a few, as real sets do.
            if role != "test" and rng.rand() < drop:
                continue
            colour, shape = c["label"].split(" ", 1)
            keys.append(c["key"])
            images.append(draw(shape, COLOURS[colour], style, rng))
        np.save(styles_dir / f"{style}.npy", np.stack(images))
        (styles_dir / f"{style}.keys.json").write_text(json.dumps(keys), encoding="utf-8")
        manifest_styles.append({"name": style, "role": role, "count": len(keys), "license": "CC0-1.0"})
    (root / "concepts.json").write_text(json.dumps(concepts, ensure_ascii=False, indent=1), encoding="utf-8")
    manifest = {
        "name": "synthetic",
        "version": f"synthetic-{seed}",
        "image_size": 64,
        "styles": manifest_styles,
        "locales": ["en", "de", "fr"],
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    (root / "LICENSES.md").write_text(
        "# Licences\n\nSynthetic shapes drawn by lookbook_training/synthetic_data.py: CC0-1.0.\n",
        encoding="utf-8",
    )
    return root
