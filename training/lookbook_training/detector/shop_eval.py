"""Data for the end-to-end Shop The Look evaluation (`npm run bench:shop-the-look`).

    cd training
    OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.detector.shop_eval --scenes 300
    # → data/shop-eval/catalog/*.png + catalog.json   (the product images of the training styles)
    #   data/shop-eval/scenes/*.png + index.json       (fixed scenes of the held-out style)

The catalog holds every image, in the detector's training styles, of every concept of the
detector's classes: one product per (concept, style), its category the detector class, so the
service's label → category map is the identity. The scenes are the fixed evaluation scenes of
the held-out (test) style (`scenes.eval_generator`), whose ground truth names each object's
concept: a hit is a detected object whose exact concept is among its top products.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

from PIL import Image

from ..dataset import EmojiDataset
from .scenes import PRODUCT_CLASSES, SourcePool, eval_generator, save_scenes


def write_catalog(ds: EmojiDataset, out: Path) -> int:
    """PNG (RGBA, as the dataset holds it) per product image of the training styles."""
    out.mkdir(parents=True, exist_ok=True)
    pool = SourcePool(ds, ds.train_styles, PRODUCT_CLASSES, distractors=False)
    items = []
    for cid, (keys, per_concept) in enumerate(zip(pool.concept_keys, pool.items)):
        for key, rows in zip(keys, per_concept):
            for si, row in rows:
                style = pool.styles[int(si)]
                file = f"{key}--{style}.png"
                Image.fromarray(pool.arrays[int(si)][int(row)]).save(out / file, optimize=False)
                items.append({"id": f"{key}:{style}", "file": file, "category": PRODUCT_CLASSES.names[cid],
                              "concept": key, "style": style})
    (out.parent / "catalog.json").write_text(
        json.dumps({"styles": pool.styles, "classes": list(PRODUCT_CLASSES.names), "items": items}, indent=1) + "\n",
        encoding="utf-8",
    )
    return len(items)


def main(argv: Optional[Sequence[str]] = None) -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description="Write the Shop The Look evaluation catalog and scenes.")
    parser.add_argument("--data", type=Path, default=root / "data" / "emoji-v1")
    parser.add_argument("--out", type=Path, default=root / "data" / "shop-eval")
    parser.add_argument("--scenes", type=int, default=300, help="held-out-style scenes")
    parser.add_argument("--style", help="scene style (default: the dataset's test style)")
    args = parser.parse_args(argv)
    ds = EmojiDataset(args.data)
    count = write_catalog(ds, args.out / "catalog")
    style = args.style or ds.test_style
    save_scenes(eval_generator(ds, style), args.scenes, args.out / "scenes")
    print(f"wrote {count} catalog images ({', '.join(ds.train_styles)}) and {args.scenes} {style} scenes to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
