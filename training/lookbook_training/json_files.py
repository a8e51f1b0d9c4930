"""Stable, diff-friendly JSON files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_NUMBER_ARRAY = re.compile(rf"\[\s*{_NUMBER}(?:\s*,\s*{_NUMBER})*\s*\]")


def dumps(data: Any) -> str:
    """Indented JSON with every array of numbers on one line, UTF-8, trailing newline."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    text = _NUMBER_ARRAY.sub(lambda m: "[" + ", ".join(re.findall(_NUMBER, m.group(0))) + "]", text)
    return text + "\n"


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(data), encoding="utf-8")
