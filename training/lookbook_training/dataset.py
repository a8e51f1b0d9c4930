"""The emoji image/text dataset built by ``training/dataset/build.mjs`` (``emoji-v1``).

Layout of the directory (see training/README.md, "Dataset")::

    manifest.json              name, format_version, per-style count/source/licence/role, roles, locales
    concepts.json              [{key, emoji, hexcode, label, tags, group, subgroup, order, styles, i18n}]
    styles/<style>.npy         uint8 [N, 64, 64, 4] RGBA (straight alpha, RGB 0 where alpha is 0)
    styles/<style>.keys.json   row i -> concept key
    LICENSES.md                sources, licences and the attributions they require

Only NumPy is needed: the image arrays are memory-mapped, nothing is decoded.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

DATASET_NAME = "emoji-v1"
FORMAT_VERSION = 1
IMAGE_SIZE = 64

UNSEEN_FRACTION = 0.08
SPLIT_SEED = "lookbook-emoji-split-v1"

# ---------------------------------------------------------------------------------------------
# Product-like concepts. A concept's category comes from its CLDR subgroup (SUBGROUP_CATEGORY);
# KEY_CATEGORY then overrides single concepts, to split CLDR's broad "clothing" subgroup into
# shoes / bags / eyewear / accessories and to drop concepts that are not products (None).
# Subgroups not listed are not product-like (faces, people, animals, flags, symbols, places…).

SUBGROUP_CATEGORY: Dict[str, str] = {
    "clothing": "clothing",
    "food-fruit": "food",
    "food-vegetable": "food",
    "food-prepared": "food",
    "food-asian": "food",
    "food-sweet": "food",
    "drink": "drink",
    "dishware": "kitchenware",
    "household": "household",
    "sport": "sport",
    "game": "toys-games",
    "tool": "tools",
    "lock": "tools",
    "office": "office",
    "writing": "office",
    "book-paper": "office",
    "computer": "electronics",
    "phone": "electronics",
    "light-video": "electronics",
    "music": "electronics",
    "musical-instrument": "musical-instruments",
    "medical": "health",
    "transport-ground": "vehicles",
}

_SHOES = ["1f45e", "1f45f", "1f460", "1f461", "1f462", "1f97e", "1f97f", "1fa70", "1fa74"]
_BAGS = ["1f392", "1f45b", "1f45c", "1f45d", "1f6cd", "1f9f3", "1f4bc"]  # + luggage, briefcase
_EYEWEAR = ["1f453", "1f576", "1f97d"]
_ACCESSORIES = ["1f48d", "1f48e", "1f4ff", "1f451", "1faad", "1faae", "1f484"]  # jewellery, fan, lipstick…
_FURNITURE = ["1f6cb", "1f6cf", "1fa91", "1fa9e", "1f5c4"]  # couch and lamp, bed, chair, mirror, file cabinet
_NOT_PRODUCTS = [
    "1f4a3",  # bomb
    "2660", "2663", "2665", "2666",  # card suits (symbols)
    "1f3af", "1f52e",  # bullseye, crystal ball
    "1f50f",  # locked with pen
    "1f689", "1f68f", "1f6a5", "1f6a6", "1f6a7", "1f6a8", "1f6d1", "1f6e3", "1f6e4", "26fd", "1f6e2",
    # station, bus stop, traffic lights, construction, police car light, stop sign, motorway,
    # railway track, fuel pump, oil drum
    "1f39e", "1f3ac",  # film frames, clapper board
    "1f39a", "1f39b", "1f3b5", "1f3b6", "1f3bc",  # level slider, control knobs, notes, score
    "1fa78", "1fa7b",  # drop of blood, x-ray
]
KEY_CATEGORY: Dict[str, Optional[str]] = {
    **{k: "shoes" for k in _SHOES},
    **{k: "bags" for k in _BAGS},
    **{k: "eyewear" for k in _EYEWEAR},
    **{k: "accessories" for k in _ACCESSORIES},
    **{k: "furniture" for k in _FURNITURE},
    **{k: None for k in _NOT_PRODUCTS},
    "1f3ee": "household", "1f56f": "household", "1fa94": "household",  # lantern, candle, diya lamp
    "1f50d": "tools", "1f50e": "tools",  # magnifying glasses
    "1f3bd": "clothing", "1f94b": "clothing",  # running shirt, martial arts uniform
    "1f4b3": "accessories",  # credit card (wallet item)
}

PRODUCT_CATEGORIES: Tuple[str, ...] = tuple(
    sorted(set(SUBGROUP_CATEGORY.values()) | {v for v in KEY_CATEGORY.values() if v})
)


def product_category(concept: dict) -> Optional[str]:
    """The product category of a concept dict (from concepts.json), or None."""
    key = concept["key"]
    if key in KEY_CATEGORY:
        return KEY_CATEGORY[key]
    return SUBGROUP_CATEGORY.get(concept.get("subgroup") or "")


# ---------------------------------------------------------------------------------------------
# Split


def split_value(key: str, seed: str = SPLIT_SEED) -> float:
    """A uniform number in [0, 1) from the concept key alone (SHA-256 of seed:key)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def is_unseen(key: str, fraction: float = UNSEEN_FRACTION, seed: str = SPLIT_SEED) -> bool:
    """Whether a concept is held out entirely (depends only on key, fraction and seed)."""
    return split_value(key, seed) < fraction


# ---------------------------------------------------------------------------------------------
# Captions


def _clean(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").strip()


def caption(
    concept: dict,
    rng: random.Random,
    locale_mix: float = 0.2,
    max_keywords: int = 3,
    sep: str = ", ",
    locales: Optional[Sequence[str]] = None,
) -> str:
    """Label plus 0..max_keywords random keywords (not repeating the label).

    With probability ``locale_mix`` (and when the concept has translations) the caption is in
    another locale, picked uniformly from ``locales`` (default: all in the concept). ``rng`` is
    a ``random.Random``; the result is a deterministic function of its state.
    """
    label, tags = concept["label"], concept.get("tags") or []
    i18n = concept.get("i18n") or {}
    available = [loc for loc in (locales if locales is not None else sorted(i18n)) if loc in i18n]
    if available and locale_mix > 0 and rng.random() < locale_mix:
        entry = i18n[available[rng.randrange(len(available))]]
        label, tags = entry["label"], entry.get("tags") or []
    label = _clean(label)
    pool = [t for t in dict.fromkeys(_clean(t) for t in tags) if t and t.lower() != label.lower()]
    n = rng.randint(0, min(max_keywords, len(pool)))
    words = rng.sample(pool, n) if n else []
    return sep.join([label] + words)


# ---------------------------------------------------------------------------------------------
# Dataset


@dataclass
class Style:
    name: str
    images: np.ndarray  # uint8 [N, 64, 64, 4], memory-mapped
    keys: List[str]
    role: str
    index: Dict[str, int]

    def __len__(self) -> int:
        return len(self.keys)

    def image(self, key: str) -> np.ndarray:
        return self.images[self.index[key]]


def _read_json(path: Path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class EmojiDataset:
    """``EmojiDataset(root)``: the concepts, and per style the memory-mapped images and keys.

    ``styles[name]`` unpacks as ``(images, keys)`` through ``styles_tuple``; ``style(name)``
    gives the richer :class:`Style`. ``val_style`` / ``test_style`` default to the manifest's
    roles and can be overridden (the trainer's flags).
    """

    def __init__(
        self,
        root,
        styles: Optional[Iterable[str]] = None,
        val_style: Optional[str] = None,
        test_style: Optional[str] = None,
    ):
        self.root = Path(root)
        self.manifest = _read_json(self.root / "manifest.json")
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{self.root}: format_version {self.manifest.get('format_version')}, expected {FORMAT_VERSION}")
        self.concepts: List[dict] = _read_json(self.root / "concepts.json")
        self.by_key: Dict[str, dict] = {c["key"]: c for c in self.concepts}
        roles = self.manifest.get("roles", {})
        self.test_style = test_style if test_style is not None else roles.get("test")
        self.val_style = val_style if val_style is not None else roles.get("val")
        names = list(styles) if styles is not None else list(self.manifest["styles"])
        self._styles: Dict[str, Style] = {}
        for name in names:
            images = np.load(self.root / "styles" / f"{name}.npy", mmap_mode="r")
            keys = _read_json(self.root / "styles" / f"{name}.keys.json")
            if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 4):
                raise ValueError(f"{name}.npy: dtype {images.dtype} shape {images.shape}")
            if len(keys) != images.shape[0]:
                raise ValueError(f"{name}: {len(keys)} keys for {images.shape[0]} images")
            unknown = [k for k in keys if k not in self.by_key]
            if unknown:
                raise ValueError(f"{name}: keys not in concepts.json: {unknown[:5]}")
            self._styles[name] = Style(name, images, keys, self.role(name), {k: i for i, k in enumerate(keys)})
        # styles: name -> (images, keys)
        self.styles: Dict[str, Tuple[np.ndarray, List[str]]] = {
            n: (s.images, s.keys) for n, s in self._styles.items()
        }

    # ----- styles and roles

    def role(self, style: str) -> str:
        if style == self.test_style:
            return "test"
        if style == self.val_style:
            return "val"
        return "train"

    def style(self, name: str) -> Style:
        return self._styles[name]

    @property
    def train_styles(self) -> List[str]:
        return [n for n in self._styles if self.role(n) == "train"]

    @property
    def locales(self) -> List[str]:
        return list(self.manifest.get("locales", ["en"]))

    def styles_of(self, key: str) -> List[str]:
        """The loaded styles that have an image of ``key``."""
        return [n for n, s in self._styles.items() if key in s.index]

    # ----- concept selections

    def concepts_in_at_least(self, k_styles: int, styles: Optional[Iterable[str]] = None) -> List[dict]:
        """Concepts with an image in at least ``k_styles`` of ``styles`` (default: all loaded)."""
        names = list(styles) if styles is not None else list(self._styles)
        out = []
        for c in self.concepts:
            n = sum(1 for s in names if c["key"] in self._styles[s].index)
            if n >= k_styles:
                out.append(c)
        return out

    def split(
        self, fraction: float = UNSEEN_FRACTION, seed: str = SPLIT_SEED, min_styles: int = 3
    ) -> Dict[str, List[str]]:
        """{'seen': keys, 'unseen': keys}: of the concepts in ≥ ``min_styles`` loaded styles,
        a ``fraction`` is held out by a seeded hash of the key — stable across runs and rebuilds.
        Concepts in fewer styles are in neither list."""
        keys = [c["key"] for c in self.concepts_in_at_least(min_styles)]
        unseen = [k for k in keys if is_unseen(k, fraction, seed)]
        held = set(unseen)
        return {"seen": [k for k in keys if k not in held], "unseen": unseen}

    # ----- text and categories

    def caption(self, concept, rng: random.Random, locale_mix: float = 0.2, **kw) -> str:
        if isinstance(concept, str):
            concept = self.by_key[concept]
        return caption(concept, rng, locale_mix=locale_mix, **kw)

    def product_like(self, concept) -> Optional[str]:
        """The product category of a concept (dict or key), or None."""
        if isinstance(concept, str):
            concept = self.by_key[concept]
        return product_category(concept)

    def product_counts(self, concepts: Optional[Iterable[dict]] = None) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for c in concepts if concepts is not None else self.concepts:
            cat = product_category(c)
            if cat:
                counts[cat] = counts.get(cat, 0) + 1
        return dict(sorted(counts.items()))

    # ----- image quality

    def identical_groups(self, style: str) -> List[List[str]]:
        """Groups of ≥2 concepts whose images in ``style`` are byte-identical (e.g. OpenMoji's
        black flags are all the same empty rectangle). Evaluation may want to drop them."""
        s = self._styles[style]
        groups: Dict[bytes, List[str]] = {}
        for i, k in enumerate(s.keys):
            groups.setdefault(hashlib.sha1(np.ascontiguousarray(s.images[i]).tobytes()).digest(), []).append(k)
        return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={len(s)}({s.role})" for n, s in self._styles.items())
        return f"EmojiDataset({str(self.root)!r}: {len(self.concepts)} concepts; {parts})"


def describe(root) -> str:
    """A short text summary (python -m lookbook_training.dataset DIR)."""
    ds = EmojiDataset(root)
    lines = [repr(ds)]
    for k in range(1, len(ds.styles) + 1):
        lines.append(f"  concepts in >= {k} styles: {len(ds.concepts_in_at_least(k))}")
    sp = ds.split()
    lines.append(f"  split (>= 3 styles): {len(sp['seen'])} seen, {len(sp['unseen'])} unseen")
    prod = ds.product_counts(ds.concepts_in_at_least(3))
    lines.append(f"  product-like (>= 3 styles): {sum(prod.values())}: " + ", ".join(f"{k} {v}" for k, v in prod.items()))
    for name in ds.styles:
        g = ds.identical_groups(name)
        if g:
            lines.append(f"  {name}: {sum(len(x) for x in g)} images in {len(g)} groups of identical images")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    root = args[0] if args else Path(__file__).resolve().parents[1] / "data" / DATASET_NAME
    print(describe(root))
    ds, rng = EmojiDataset(root), random.Random(0)
    for c in ds.concepts[:: max(1, len(ds.concepts) // 8)]:
        print(f"  {c['key']:>12}  {ds.caption(c, rng)!r}")


if __name__ == "__main__":
    main()
