"""Complete the Look (Kang et al., CVPR 2019): scene–product compatibility on frozen encoder features.

    node dist/tools/ctl-data.js                 # themed scenes and the service encoder's features
    cd training && OMP_NUM_THREADS=2 /usr/bin/python3 -m lookbook_training.ctl.train   # → ../models/lookbook-ctl

The score of product p for scene s with regions r_1..r_m (all base embeddings of the dual
encoder, 512-d, unit length):

    global(s, p) = α s·p + (s A)·(p B)                                 A, B: d × k
    local(s, p)  = β Σ_j softmax_j((p Q)·(r_j K) / √k) (r_j V)·(p B)     Q, K, V: d × k
    score        = global + local

The global term is linear in p, so the service retrieves candidates with one query vector
q = α s + s A Bᵀ from the index it already has (`query.onnx`), and re-scores the top ones with
the local term, where the product attends over the scene's regions (`local.onnx`). α starts at 1
and A B at ~0, so training starts from plain visual similarity. Trained with the paper's hinge
loss over (scene, its held-out item, items of the same class from other themes).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..export import export_onnx


class Compatibility(nn.Module):
    def __init__(self, d: int = 512, k: int = 64) -> None:
        super().__init__()
        self.k = k
        g = torch.Generator().manual_seed(0)
        self.alpha = nn.Parameter(torch.tensor(1.0))
        self.beta = nn.Parameter(torch.tensor(0.1))
        self.A = nn.Parameter(torch.randn(d, k, generator=g) * 0.01)
        self.B = nn.Parameter(torch.randn(d, k, generator=g) * 0.01)
        self.Q = nn.Parameter(torch.randn(d, k, generator=g) / math.sqrt(d))
        self.K = nn.Parameter(torch.randn(d, k, generator=g) / math.sqrt(d))
        self.V = nn.Parameter(torch.randn(d, k, generator=g) * 0.01)

    def query(self, scene: Tensor) -> Tensor:
        """[n, d] scenes → [n, d] query vectors: global(s, p) = query(s) · p."""
        return self.alpha * scene + (scene @ self.A) @ self.B.T

    def local(self, products: Tensor, regions: Tensor, mask: Tensor) -> Tensor:
        """products [n, c, d], regions [n, m, d], mask [n, m] (1 = a region) → [n, c]."""
        q = products @ self.Q  # n c k
        keys = regions @ self.K  # n m k
        logits = torch.einsum("nck,nmk->ncm", q, keys) / math.sqrt(self.k)
        logits = logits.masked_fill(mask[:, None, :] == 0, -1e9)
        attention = torch.softmax(logits, dim=-1)
        values = torch.einsum("nmk,nck->ncm", regions @ self.V, products @ self.B)
        return self.beta * (attention * values).sum(-1)

    def score(self, scene: Tensor, products: Tensor, regions: Tensor, mask: Tensor) -> Tensor:
        """scene [n, d], products [n, c, d] → [n, c]."""
        return torch.einsum("nd,ncd->nc", self.query(scene), products) + self.local(products, regions, mask)


class QueryGraph(nn.Module):
    def __init__(self, model: Compatibility) -> None:
        super().__init__()
        self.model = model

    def forward(self, scene: Tensor) -> Tensor:
        return self.model.query(scene)


class LocalGraph(nn.Module):
    """One scene's regions [m, d] and candidate products [c, d] → the local term [c]."""

    def __init__(self, model: Compatibility) -> None:
        super().__init__()
        self.model = model

    def forward(self, products: Tensor, regions: Tensor) -> Tensor:
        mask = torch.ones(1, regions.shape[0])
        return self.model.local(products[None], regions[None], mask)[0]


def load(data: Path) -> dict:
    meta = json.loads((data / "meta.json").read_text())
    d = meta["model"]["dimension"]
    read = lambda name: np.fromfile(data / name, dtype=np.float32).reshape(-1, d)
    products = {style: read(f"products-{style}.f32") for style in meta["product_styles"]}
    product_row = {style: {key: i for i, key in enumerate(keys)} for style, keys in meta["product_styles"].items()}
    splits = {}
    for split in ("train", "val", "test"):
        scenes = read(f"{split}-scenes.f32")
        regions = read(f"{split}-regions.f32")
        offsets, at = [], 0
        for scene in meta["scenes"][split]:
            offsets.append((at, at + len(scene["present"])))
            at += len(scene["present"])
        splits[split] = {"scenes": scenes, "regions": regions, "offsets": offsets, "meta": meta["scenes"][split]}
    info = {p["key"]: p for p in meta["products"]}
    return {"meta": meta, "d": d, "products": products, "row": product_row, "splits": splits, "info": info}


def padded_regions(split: dict, indexes: Sequence[int], d: int):
    m = max(split["offsets"][i][1] - split["offsets"][i][0] for i in indexes)
    regions = np.zeros((len(indexes), m, d), np.float32)
    mask = np.zeros((len(indexes), m), np.float32)
    for row, i in enumerate(indexes):
        a, b = split["offsets"][i]
        regions[row, : b - a] = split["regions"][a:b]
        mask[row, : b - a] = 1
    return torch.from_numpy(regions), torch.from_numpy(mask)


def candidates(ds: dict, scene: dict, style: str) -> List[str]:
    """The held-out item's class in `style`: every concept of it (the positive among them)."""
    cls = scene["held_class"]
    return [key for key in ds["meta"]["product_styles"][style] if ds["info"][key]["class"] == cls]


def evaluate(ds: dict, model: Optional[Compatibility], split: str, style: str, k: int = 10) -> Dict[str, float]:
    """Hit rate@k of the held-out item among all items of its class (the style's products)."""
    data = ds["splits"][split]
    hits = {"compatibility": 0, "global only": 0, "visual similarity": 0}
    with torch.no_grad():
        for i, scene in enumerate(data["meta"]):
            keys = candidates(ds, scene, style)
            if scene["held"] not in keys:
                continue  # the style does not draw it: not counted
            rows = [ds["row"][style][key] for key in keys]
            products = torch.from_numpy(ds["products"][style][rows])
            s = torch.from_numpy(data["scenes"][i : i + 1])
            target = keys.index(scene["held"])
            ranks = {"visual similarity": (products @ s[0]).numpy()}
            if model is not None:
                regions, mask = padded_regions(data, [i], ds["d"])
                glob = (products @ model.query(s)[0]).numpy()
                ranks["global only"] = glob
                ranks["compatibility"] = model.score(s, products[None], regions, mask)[0].numpy()
            for name, scores in ranks.items():
                top = np.argsort(-scores)[:k]
                hits[name] += int(target in top)
    n = sum(1 for scene in data["meta"] if scene["held"] in ds["row"][style])
    return {name: hits[name] / n for name in (hits if model is not None else ["visual similarity"])}


def train(ds: dict, epochs: int, batch: int, negatives: int, margin: float, lr: float, k: int, seed: int, log) -> Compatibility:
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = Compatibility(ds["d"], k)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    data = ds["splits"]["train"]
    styles = ds["meta"]["splits"]["train"]
    n = len(data["meta"])
    best = (-1.0, None)
    for epoch in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            pos, neg = [], []
            for i in idx:
                scene = data["meta"][i]
                # A training style that draws the held-out item (a few styles lack a few concepts).
                having = [s for s in styles if scene["held"] in ds["row"][s]]
                style = having[int(rng.integers(len(having)))]
                pos.append(ds["products"][style][ds["row"][style][scene["held"]]])
                same_class = [key for key in ds["meta"]["product_styles"][style]
                              if ds["info"][key]["class"] == scene["held_class"] and key != scene["held"]]
                # Negatives: the class's items from other themes (all others, where every one shares the theme).
                pool = [key for key in same_class if scene["theme"] not in ds["info"][key]["themes"]] or same_class
                picks = rng.choice(len(pool), size=negatives, replace=len(pool) < negatives)
                neg.append(ds["products"][style][[ds["row"][style][pool[p]] for p in picks]])
            s = torch.from_numpy(data["scenes"][idx])
            products = torch.from_numpy(np.concatenate([np.stack(pos)[:, None], np.stack(neg)], axis=1))
            regions, mask = padded_regions(data, idx, ds["d"])
            scores = model.score(s, products, regions, mask)
            loss = torch.relu(margin - scores[:, :1] + scores[:, 1:]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss) * len(idx)
        val = evaluate(ds, model, "val", "openmoji-black")
        log(f"epoch {epoch + 1}: loss {total / n:.4f}, val hit@10 {val['compatibility']:.3f} (global {val['global only']:.3f}, visual {val['visual similarity']:.3f})")
        if val["compatibility"] > best[0]:
            best = (val["compatibility"], {name: p.detach().clone() for name, p in model.state_dict().items()})
    model.load_state_dict(best[1])
    return model


def main(argv: Optional[Sequence[str]] = None) -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description="Train and export the Complete the Look compatibility model.")
    parser.add_argument("--data", type=Path, default=root / "data" / "ctl")
    parser.add_argument("--out", type=Path, default=root.parent / "models" / "lookbook-ctl")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--negatives", type=int, default=16)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    started = time.time()
    ds = load(args.data)
    lines: List[str] = []
    log = lambda line: (print(line, flush=True), lines.append(line))
    model = train(ds, args.epochs, args.batch, args.negatives, args.margin, args.lr, args.rank, args.seed, log)
    seconds = time.time() - started
    test = evaluate(ds, model, "test", "twitter")
    val = evaluate(ds, model, "val", "openmoji-black")
    log(f"test (twitter): {test}; val (openmoji-black): {val}; {seconds:.0f} s")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    d = ds["d"]
    export_onnx(QueryGraph(model), (torch.zeros(1, d),), out / "query.onnx", ["scene"], ["query"], {"scene": {0: "n"}, "query": {0: "n"}})
    export_onnx(LocalGraph(model), (torch.zeros(5, d), torch.zeros(3, d)), out / "local.onnx", ["products", "regions"], ["local"],
                {"products": {0: "candidates"}, "regions": {0: "regions"}, "local": {0: "candidates"}})
    meta = ds["meta"]
    (out / "ctl.json").write_text(json.dumps({
        "format": "lookbook.compatibility",
        "formatVersion": 1,
        "id": "lookbook-ctl",
        "version": f"1.0.0-e{args.epochs}",
        "encoder": meta["model"],
        "query": "query.onnx",
        "local": "local.onnx",
        "dimension": d,
        "training": {"epochs": args.epochs, "batch": args.batch, "negatives": args.negatives, "margin": args.margin,
                     "lr": args.lr, "rank": args.rank, "seed": args.seed, "seconds": round(seconds),
                     "scenes": {split: len(meta["scenes"][split]) for split in ("train", "val", "test")},
                     "themes": {theme: len(keys) for theme, keys in meta["themes"].items()}},
        "evaluation": {"test_twitter_hit_at_10": test, "val_openmoji_black_hit_at_10": val},
    }, indent=2) + "\n")
    (out / "train.log").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
