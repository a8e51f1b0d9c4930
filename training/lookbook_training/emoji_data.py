"""Reads the emoji dataset (``training/data/emoji-v1``) for training and evaluation.

The format (written by ``training/dataset/``):

- ``manifest.json``: ``styles``, each with a ``name`` and a ``role`` (train / val / test);
- ``concepts.json``: sorted array of {key, emoji, label, tags, group, subgroup,
  i18n: {locale: {label, tags}}};
- ``styles/<style>.npy``: uint8 [N, 64, 64, 4] RGBA; ``styles/<style>.keys.json``: the
  concept key of each row.

Also here: the unseen-concept split, caption sampling, the rule for which concepts must not
be mirrored, and the order in which an epoch visits the training images.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from .dataset import SPLIT_SEED, is_unseen  # the dataset's key-hash split, one definition

ROLES = ("train", "val", "test")


@dataclass(frozen=True)
class Concept:
    key: str
    emoji: str
    label: str
    tags: tuple[str, ...]
    group: Any = None
    subgroup: Any = None
    i18n: dict[str, dict[str, Any]] = field(default_factory=dict)

    @staticmethod
    def from_json(data: dict[str, Any]) -> "Concept":
        return Concept(
            key=str(data["key"]),
            emoji=str(data.get("emoji", "")),
            label=str(data["label"]),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            group=data.get("group"),
            subgroup=data.get("subgroup"),
            i18n={str(k): dict(v) for k, v in (data.get("i18n") or {}).items()},
        )


@dataclass
class Style:
    name: str
    role: str
    images: np.ndarray  # uint8 [N, 64, 64, 4]
    keys: list[str]


def _style_roles(manifest: dict[str, Any]) -> dict[str, str]:
    styles = manifest["styles"]
    if isinstance(styles, dict):
        return {
            name: (v if isinstance(v, str) else v["role"]) for name, v in styles.items()
        }
    return {s["name"]: s["role"] for s in styles}


class EmojiData:
    """The whole dataset in memory (~250 MB for 8 styles × 1,900 concepts)."""

    def __init__(self, root: Path, mmap: bool = False) -> None:
        self.root = Path(root)
        self.manifest = json.loads((self.root / "manifest.json").read_text(encoding="utf-8"))
        concepts = json.loads((self.root / "concepts.json").read_text(encoding="utf-8"))
        self.concepts = [Concept.from_json(c) for c in concepts]
        self.index = {c.key: i for i, c in enumerate(self.concepts)}
        self.styles: dict[str, Style] = {}
        for name, role in _style_roles(self.manifest).items():
            if role not in ROLES:
                raise ValueError(f"style {name}: unknown role {role!r}")
            images = np.load(self.root / "styles" / f"{name}.npy", mmap_mode="r" if mmap else None)
            keys = json.loads((self.root / "styles" / f"{name}.keys.json").read_text(encoding="utf-8"))
            if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 4:
                raise ValueError(f"style {name}: expected uint8 [N, H, W, 4], got {images.dtype} {images.shape}")
            if len(keys) != len(images):
                raise ValueError(f"style {name}: {len(keys)} keys for {len(images)} images")
            missing = [k for k in keys if k not in self.index]
            if missing:
                raise ValueError(f"style {name}: keys not in concepts.json: {missing[:5]}")
            self.styles[name] = Style(name, role, images, list(keys))

    def styles_with_role(self, role: str) -> list[str]:
        return sorted(n for n, s in self.styles.items() if s.role == role)

    @property
    def train_styles(self) -> list[str]:
        return self.styles_with_role("train")

    @property
    def val_style(self) -> str:
        (name,) = self.styles_with_role("val")
        return name

    @property
    def test_style(self) -> str:
        (name,) = self.styles_with_role("test")
        return name

    @property
    def version(self) -> str:
        return str(self.manifest.get("version") or self.manifest.get("name") or "unknown")

    def fingerprint(self) -> str:
        """A short hash of concepts.json and every style's keys: identifies the data a
        checkpoint was trained on."""
        h = hashlib.sha256((self.root / "concepts.json").read_bytes())
        for name in sorted(self.styles):
            h.update(name.encode())
            h.update((self.root / "styles" / f"{name}.keys.json").read_bytes())
            h.update(str(self.styles[name].images.shape).encode())
        return h.hexdigest()[:16]

    def locales(self) -> list[str]:
        return sorted({loc for c in self.concepts for loc in c.i18n})

    def concept_ids(self, style: str) -> np.ndarray:
        return np.array([self.index[k] for k in self.styles[style].keys], dtype=np.int64)


# ---------------------------------------------------------------------------------------
# The unseen-concept split.


def unseen_split(keys: Sequence[str], fraction: float = 0.08, seed: str = SPLIT_SEED) -> list[str]:
    """The concept keys that training never sees: ``dataset.is_unseen`` (SHA-256 of
    ``seed:key`` below ``fraction``), which depends on the key alone, so the split is stable
    across dataset rebuilds and runs. Unlike ``EmojiDataset.split`` it is not limited to
    concepts in >= 3 styles; on those the two agree."""
    return sorted(k for k in keys if is_unseen(k, fraction, seed))


# ---------------------------------------------------------------------------------------
# Captions.

_FOLD = re.compile(r"\s+")


def _same(a: str, b: str) -> bool:
    return _FOLD.sub(" ", a.strip().lower()) == _FOLD.sub(" ", b.strip().lower())


def query_caption(concept: Concept) -> str:
    """The evaluation query: the English label, as it is."""
    return concept.label


def sample_caption(
    concept: Concept,
    rng: np.random.Generator,
    locales: Sequence[str] = (),
    p_other_locale: float = 0.2,
    p_label_only: float = 0.3,
    max_tags: int = 3,
) -> str:
    """A training caption: the label, alone (``p_label_only``) or followed by 1…``max_tags``
    of the concept's keywords in random order; with ``p_other_locale`` the label and
    keywords of another locale (one the concept has) instead of English."""
    label, tags = concept.label, list(concept.tags)
    if locales and rng.random() < p_other_locale:
        have = [loc for loc in locales if loc in concept.i18n and concept.i18n[loc].get("label")]
        if have:
            loc = have[int(rng.integers(len(have)))]
            label = str(concept.i18n[loc]["label"])
            tags = [str(t) for t in concept.i18n[loc].get("tags") or ()]
    tags = [t for t in dict.fromkeys(tags) if t and not _same(t, label)]
    if not tags or rng.random() < p_label_only:
        return label
    k = int(rng.integers(1, min(max_tags, len(tags)) + 1))
    picked = [tags[i] for i in rng.permutation(len(tags))[:k]]
    return ", ".join([label, *picked])


def vocabulary_texts(concepts: Sequence[Concept], locales: Sequence[str]) -> list[str]:
    """Every label and keyword, English and the given locales: the tokenizer's corpus."""
    texts = []
    for c in concepts:
        texts.append(c.label)
        texts.extend(c.tags)
        for loc in locales:
            entry = c.i18n.get(loc)
            if entry:
                texts.append(str(entry.get("label") or ""))
                texts.extend(str(t) for t in entry.get("tags") or ())
    return [t for t in texts if t]


def small_alphabet_locales(concepts: Sequence[Concept], max_chars: int = 120) -> list[str]:
    """Locales whose labels and keywords use at most ``max_chars`` distinct characters after
    the WordPiece normalizer (NFD, lower case, accents stripped): Latin, Cyrillic, Greek…
    scripts. CJK locales use thousands of characters, each of which would become two
    vocabulary entries (``x`` and ``##x``), so they are left out of the vocabulary and of
    the captions."""
    chars: dict[str, set[str]] = {}
    for c in concepts:
        for loc, entry in c.i18n.items():
            text = " ".join([str(entry.get("label") or ""), *[str(t) for t in entry.get("tags") or ()]])
            norm = "".join(
                ch for ch in unicodedata.normalize("NFD", text.lower()) if not unicodedata.combining(ch)
            )
            chars.setdefault(loc, set()).update(ch for ch in norm if not ch.isspace())
    return sorted(loc for loc, cs in chars.items() if len(cs) <= max_chars and loc != "en")


# ---------------------------------------------------------------------------------------
# Which concepts must not be mirrored.

_DIRECTION_WORDS = re.compile(
    r"\b(arrows?|flags?|clock|o[’']clock|clockwise|counterclockwise|anticlockwise|pointing|"
    r"index|keycap|letters?|latin|numbers?|digits?|symbols?|input|button|sign|mark|left|"
    r"right|leftwards|rightwards|hundred|zzz|copyright|registered|trade|dollar|yen|euro|"
    r"pound|currency|banknote|information|circled|squared|japanese|chinese|newspaper|"
    r"calendar|writing|abc|abcd|sos|atm|wc|vs|ng|ok|id|cool|free|new|up|top|soon|end|back)\b",
    re.IGNORECASE,
)
_DIRECTION_SUBGROUPS = {
    "arrow", "alphanum", "keycap", "flag", "country-flag", "subdivision-flag", "time",
    "hand-single-finger", "other-symbol", "currency", "punctuation", "math",
}


def direction_matters(concept: Concept) -> bool:
    """True for concepts a horizontal flip would turn into something else or garble:
    arrows, flags, clocks, text, letters and numbers, pointing hands (a conservative rule
    on the English label, its keywords, the subgroup and the code points)."""
    if isinstance(concept.subgroup, str) and concept.subgroup.lower() in _DIRECTION_SUBGROUPS:
        return True
    for cp in map(ord, concept.emoji):
        if cp == 0x20E3 or 0x1F1E6 <= cp <= 0x1F1FF or 0xE0020 <= cp <= 0xE007F:
            return True  # keycap, regional indicators (flags), tag sequences (flags)
        if 0x1F550 <= cp <= 0x1F567 or 0x2190 <= cp <= 0x21FF or 0x27A1 == cp:
            return True  # clock faces, arrows
    text = " ".join([concept.label, *concept.tags])
    return _DIRECTION_WORDS.search(text) is not None


# ---------------------------------------------------------------------------------------
# Training images and the epoch order.


@dataclass
class TrainSet:
    """Every training image (training styles, seen concepts), stacked."""

    images: np.ndarray  # uint8 [M, H, W, 4]
    concept: np.ndarray  # int64 [M]: index into EmojiData.concepts
    style: np.ndarray  # int64 [M]: index into styles
    styles: list[str]
    rows_of: dict[int, np.ndarray]  # concept index -> its rows, sorted

    @property
    def concept_ids(self) -> list[int]:
        return sorted(self.rows_of)

    def pairs_per_epoch(self) -> int:
        return sum((len(r) + 1) // 2 for r in self.rows_of.values())


def build_train_set(data: EmojiData, unseen: Sequence[str], styles: Optional[Sequence[str]] = None) -> TrainSet:
    styles = list(styles or data.train_styles)
    unseen_set = set(unseen)
    images, concept, style = [], [], []
    for si, name in enumerate(styles):
        st = data.styles[name]
        keep = [i for i, k in enumerate(st.keys) if k not in unseen_set]
        images.append(np.asarray(st.images[keep]))
        concept.extend(data.index[st.keys[i]] for i in keep)
        style.extend([si] * len(keep))
    concept_arr = np.array(concept, dtype=np.int64)
    rows_of: dict[int, list[int]] = {}
    for row, c in enumerate(concept):
        rows_of.setdefault(c, []).append(row)
    return TrainSet(
        images=np.concatenate(images) if images else np.zeros((0, 64, 64, 4), np.uint8),
        concept=concept_arr,
        style=np.array(style, dtype=np.int64),
        styles=styles,
        rows_of={c: np.array(r, dtype=np.int64) for c, r in rows_of.items()},
    )


def epoch_batches(train: TrainSet, seed: int, epoch: int, batch_size: int) -> list[np.ndarray]:
    """The batches of one epoch, each int64 [B, 3] (concept, row of image A, row of image B).

    An epoch pairs up every concept's training images in a random order (two different
    styles per pair; with an odd count the last image pairs with a random other one, and a
    concept with a single image pairs it with itself), so each training image is seen at
    least once. A concept's k pairs are spread evenly over the epoch (pair j at position
    (j + u) / k, u uniform per concept), so every part of the epoch mixes all kinds of
    concepts. (Dealing them out in rounds — every concept's first pair, then the second… —
    made each epoch's last batches all concepts drawn in five or six styles, and visibly
    higher in loss.) A pair whose concept is already in the batch being filled waits for
    the next batch, so no batch holds a concept twice. The incomplete last batch is
    dropped: every epoch has ``pairs // batch_size`` batches. Depends only on (seed,
    epoch): resuming mid-epoch rebuilds the same order.
    """
    rng = np.random.default_rng([seed, epoch, 0x5EED])
    pairs: list[tuple[int, int, int]] = []
    keys: list[float] = []
    for c in train.concept_ids:
        rows = train.rows_of[c]
        perm = rows[rng.permutation(len(rows))]
        mine = [(c, int(perm[i]), int(perm[i + 1])) for i in range(0, len(perm) - 1, 2)]
        if len(perm) % 2:
            other = perm[int(rng.integers(len(perm) - 1))] if len(perm) > 1 else perm[-1]
            mine.append((c, int(perm[-1]), int(other)))
        offset = rng.random()
        pairs.extend(mine)
        keys.extend((j + offset) / len(mine) for j in range(len(mine)))
    order = [pairs[i] for i in np.argsort(np.array(keys), kind="stable")]
    batches: list[np.ndarray] = []
    current: list[tuple[int, int, int]] = []
    in_batch: set[int] = set()
    waiting: list[tuple[int, int, int]] = []
    for pair in order:
        pending = waiting + [pair]
        waiting = []
        for p in pending:
            if p[0] in in_batch:
                waiting.append(p)
                continue
            current.append(p)
            in_batch.add(p[0])
            if len(current) == batch_size:
                batches.append(np.array(current, dtype=np.int64))
                current, in_batch = [], set()
    # Rarely, pairs still waiting at the end would make one more batch: it may then hold a
    # concept twice (the loss masks same-concept pairs), so every epoch has the same length.
    target = train.pairs_per_epoch() // batch_size
    leftover = current + waiting
    while len(batches) < target:
        batches.append(np.array(leftover[:batch_size], dtype=np.int64))
        leftover = leftover[batch_size:]
    return batches[:target]


def steps_per_epoch(train: TrainSet, batch_size: int) -> int:
    return train.pairs_per_epoch() // batch_size
