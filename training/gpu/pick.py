"""Prints the run directory to bring back of those given: the finished, evaluated run with the
best validation-style score (mean of float T→I R@5 and I→I R@1 on the validation style; the
test style plays no part). Without any evaluated run, the first finished one, else the first.

    python3 gpu/pick.py runs/A runs/B
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def val_score(run: Path) -> float | None:
    path = run / "eval.json"
    if not (run / "model.pt").exists() or not path.exists():
        return None
    val = json.loads(path.read_text(encoding="utf-8"))["trained"]["val"]
    return (val["t2i"]["float"]["all"]["r5"] + val["i2i"]["float"]["all"]["r1"]) / 2


def pick(runs: list[Path]) -> Path:
    scored = [(s, r) for r in runs if (s := val_score(r)) is not None]
    for s, r in scored:
        print(f"{r}: validation score {s:.2f}", file=sys.stderr)
    if scored:
        return max(scored, key=lambda sr: sr[0])[1]
    finished = [r for r in runs if (r / "model.pt").exists()]
    return (finished or runs)[0]


if __name__ == "__main__":
    print(pick([Path(a) for a in sys.argv[1:]]))
