"""Exports a trained run as the service's default model directory (`lookbook` layout).

    cd training
    OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.export_default \\
        --run runs/NAME --out ../models/lookbook-emoji

Writes ``image.onnx`` and ``text.onnx`` (opset 17, dynamic batch), ``tokenizer.json``,
``lookbook.json`` (id ``lookbook-emoji``, version ``1.0.0-e<epochs>``, 512-d, 64 px,
shortest_edge / crop / bicubic / CLIP mean-std / white background, context 16, pad 0),
``EVAL.md`` (the run's evaluation), ``LICENSES.md`` (the dataset's), ``training.json``
(recipe, seed, data version, time, machine) and ``reference.json`` with the PNGs it uses:
the schema of ``test/fixtures/reference/fixture.json`` (see ``training/README.md``), on
the fixed images of ``test/fixtures/images/`` and a few test-style emoji saved next to it as
``reference-<style>-<key>.png``. Each image entry adds ``dir``: the directory of ``file``,
relative to the repository root when inside it, and ``alpha``: whether it has transparent
pixels (then sharp's flatten may differ from Pillow's by one 8-bit step: tolerance
``pixel_values_max_abs_alpha_not_resampled``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .emoji_data import EmojiData
from .export import export_lookbook_model, run_onnx_if_available
from .fixture_corpus import REFERENCE_TEXTS
from .fixture_images import FIXTURE_IMAGE_FILES
from .json_files import write_json
from .make_fixtures import (
    CLIP_MEAN,
    CLIP_STD,
    TOLERANCE_NOTES,
    TOLERANCES,
    _f32,
    _image_cases,
    _l2_normalize,
    _reference,
    _text_cases,
)
from .preprocess import PreprocessSpec
from .runs import (
    REPO_ROOT,
    count_parameters,
    load_model,
    load_run_config,
    load_tokenizer,
    read_json,
)
from .tokenizer import Tokenizer, encode_for_context

MODEL_ID = "lookbook-emoji"
GENERATOR = "training/lookbook_training/export_default.py"
MAX_FILE_BYTES = 50 * 1024 * 1024
# Emoji-domain queries on top of the fixture's tokenizer edge cases.
EMOJI_TEXTS = ("red apple", "grinning face", "running shoe", "Pfeil nach rechts", "pomme rouge")
N_STYLE_IMAGES = 4
REFERENCE_TOLERANCES = {
    **TOLERANCES,
    "embedding_max_abs": 1e-4,
    "embedding_min_cosine": 0.9999,
    "pixel_values_max_abs_alpha_not_resampled": 0.0151,
}
REFERENCE_TOLERANCE_NOTES = {
    **TOLERANCE_NOTES,
    "embedding_max_abs": "max |onnx - reference| per component of the L2-normalized embedding, on the exact ids / pixel_values_b64 given (onnxruntime-node 1.30 measured 8e-8 on a trained lookbook-emoji)",
    "pixel_values_max_abs_not_resampled": "service pixel values vs pixel_values_b64 for images already at the input size (resampled: false) without transparency (alpha: false): decode + normalize only",
    "pixel_values_max_abs_alpha_not_resampled": "the same for alpha: true (transparent pixels flattened onto the background): sharp's flatten and Pillow's alpha_composite round differently, one 8-bit step on edge pixels = 1/255/0.2613 = 0.01501 (sharp 0.35 measured exactly that, on up to 1,159 of 12,288 values per emoji); end-to-end cosine measured >= 0.999999",
}


def default_version(total_epochs: float, init: Optional[dict[str, Any]]) -> str:
    """``1.0.0-e<epochs>`` from scratch; a warm restart bumps the minor version of the model it
    started from and counts all epochs: 1.0.0-e90 + 70 → ``1.1.0-e160``."""
    if not init or not init.get("version"):
        return f"1.0.0-e{int(round(total_epochs))}"
    core = str(init["version"]).split("-")[0].split(".")
    major, minor = (int(core[0]), int(core[1])) if len(core) >= 2 and core[0].isdigit() and core[1].isdigit() else (1, 0)
    return f"{major}.{minor + 1}.0-e{int(round(total_epochs))}"


def preprocess_spec(size: int = 64) -> PreprocessSpec:
    return PreprocessSpec(
        resize="shortest_edge", size=size, crop=size, resample="bicubic", rescale=1 / 255,
        mean=CLIP_MEAN, std=CLIP_STD, background=(255, 255, 255),
    )


def _rel(path: Path) -> str:
    path = path.resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _has_transparency(path: Path) -> bool:
    with Image.open(path) as im:
        if im.mode not in ("RGBA", "LA", "PA") and "transparency" not in im.info:
            return False
        return im.convert("RGBA").getchannel("A").getextrema()[0] < 255


def reference_style_images(data: EmojiData, out_dir: Path, n: int = N_STYLE_IMAGES) -> list[Path]:
    """``n`` test-style emoji at evenly spaced rows (a fixed choice), saved as RGBA PNGs."""
    style = data.styles[data.test_style]
    rows = np.linspace(0, len(style.keys) - 1, n).round().astype(int) if len(style.keys) else []
    paths = []
    for r in dict.fromkeys(int(r) for r in rows):
        path = out_dir / f"reference-{style.name}-{style.keys[r]}.png"
        Image.fromarray(np.asarray(style.images[r]), "RGBA").save(path, optimize=False)
        paths.append(path)
    return paths


def text_cases(model, tokenizer: Tokenizer, texts: Sequence[str]) -> list[dict[str, Any]]:
    """As make_fixtures' text cases: exact ids, truncation flag, L2-normalized embedding."""
    cfg = model.cfg.text
    encoded = [encode_for_context(tokenizer, t, cfg.context_length, cfg.pad_id) for t in texts]
    with torch.no_grad():
        emb = _l2_normalize(model.text(torch.tensor([e.ids for e in encoded], dtype=torch.int64)).numpy())
    return [
        {"text": t, "ids": e.ids, "truncated": e.truncated, "embedding": _f32(v)}
        for t, e, v in zip(texts, encoded, emb)
    ]


def build_reference(model, tokenizer: Tokenizer, spec: PreprocessSpec, image_paths: Sequence[Path],
                    model_dir: Path) -> dict[str, Any]:
    cfg = model.cfg
    pad_id = cfg.text.pad_id
    texts = text_cases(model, tokenizer, tuple(REFERENCE_TEXTS) + EMOJI_TEXTS)
    images, batch = _image_cases(image_paths, spec, model.image)
    for case, path in zip(images, image_paths):
        # Images copied into the model directory travel with it (an export to a scratch folder,
        # copied into models/ later): they are found beside reference.json, not at a path.
        if path.parent.resolve() == Path(model_dir).resolve():
            case["in_model_dir"] = True
        else:
            case["dir"] = _rel(path.parent)
        case["alpha"] = _has_transparency(path)
    ref = _reference(MODEL_ID, "lookbook", _rel(model_dir), cfg.dim, cfg.text.context_length, pad_id,
                     spec, texts, images)
    ref["generator"] = GENERATOR
    ref["tolerances"] = REFERENCE_TOLERANCES
    ref["tolerance_notes"] = REFERENCE_TOLERANCE_NOTES
    return ref, batch


def export_run(run_dir: Path, out_dir: Path, version: Optional[str] = None, data_root: Optional[Path] = None,
               checkpoint: Optional[Path] = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reproducible reference embeddings
    try:
        cfg = load_run_config(run_dir)
        tokenizer, spec_json = load_tokenizer(run_dir)
        model, meta = load_model(run_dir, checkpoint)
        run_meta = read_json(run_dir / "run.json")
        data = EmojiData(Path(data_root or cfg.data))
        epochs = meta.get("epoch") or 0.0
        init = run_meta.get("init_from")
        source = (init or {}).get("source") or {}
        prior_epochs = source.get("total_epochs") or source.get("epochs") or 0.0
        total_epochs = prior_epochs + epochs
        version = version or default_version(total_epochs, init)
        spec = preprocess_spec(model.cfg.image.image_size)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        manifest = export_lookbook_model(
            model, spec_json, out_dir, model_id=MODEL_ID, version=version,
            description=(f"Lookbook's default dual encoder, trained from scratch on emoji images "
                         f"({data.version}) for {epochs:.0f} epochs; see EVAL.md and training.json" if not init else
                         f"Lookbook's default dual encoder, trained from scratch on emoji images ({data.version}): "
                         f"{total_epochs:.0f} epochs in all, the last {epochs:.0f} a warm restart from "
                         f"{init.get('version')}; see EVAL.md and training.json"),
            preprocess=spec,
        )
        # Evaluation and licences.
        if not (run_dir / "EVAL.md").exists():
            from .evaluate import evaluate_run

            evaluate_run(run_dir, data_root, checkpoint, log=log)
        shutil.copyfile(run_dir / "EVAL.md", out_dir / "EVAL.md")
        licence = next((data.root / n for n in ("LICENSES.md", "LICENSE.md", "LICENSES", "LICENSE")
                        if (data.root / n).exists()), None)
        if licence is None:
            raise FileNotFoundError(f"no LICENSES.md in {data.root}: the model must carry its data's licences")
        shutil.copyfile(licence, out_dir / "LICENSES.md")
        eval_report = read_json(run_dir / "eval.json") if (run_dir / "eval.json").exists() else {}
        write_json(out_dir / "training.json", {
            "model_id": MODEL_ID,
            "version": version,
            "recipe": cfg.to_dict(),
            "seed": cfg.seed,
            "data": {"version": data.version, "fingerprint": data.fingerprint(),
                     "train_styles": run_meta.get("train_styles"), "val_style": run_meta.get("val_style"),
                     "test_style": run_meta.get("test_style"),
                     "unseen_concepts": len(run_meta.get("unseen_keys", [])),
                     "caption_locales": run_meta.get("caption_locales")},
            "steps": meta.get("step"),
            "epochs": epochs,
            "train_seconds": meta.get("train_seconds"),
            "images_seen": meta.get("images_seen"),
            "finished": meta.get("finished"),
            "temperatures": meta.get("temperatures"),
            **({"warm_start": {k: init.get(k) for k in ("id", "version")},
                "total_epochs": total_epochs,
                "total_train_seconds": (source.get("total_train_seconds") or source.get("train_seconds") or 0.0)
                + (meta.get("train_seconds") or 0.0),
                "lineage": [*source.get("lineage", []),
                            {k: v for k, v in source.items() if k != "lineage"}]} if init else {}),
            "parameters": {"image": count_parameters(model.image), "text": count_parameters(model.text)},
            "machine": run_meta.get("machine"),
            "device": run_meta.get("device"),
            "evaluation": {k: eval_report.get(k) for k in ("trained", "baseline") if k in eval_report},
        })
        # Parity reference.
        fixture_images = [REPO_ROOT / "test" / "fixtures" / "images" / n for n in FIXTURE_IMAGE_FILES]
        image_paths = [p for p in fixture_images if p.exists()] + reference_style_images(data, out_dir)
        reference, batch = build_reference(model, tokenizer, spec, image_paths, out_dir)
        write_json(out_dir / "reference.json", reference)
        ids = np.array([t["ids"] for t in reference["texts"]], dtype=np.int64)
        with torch.no_grad():
            expected_image = model.image(torch.from_numpy(batch)).numpy()
            expected_text = model.text(torch.from_numpy(ids)).numpy()
        for name, feeds, expected in (
            ("image.onnx", {"pixel_values": batch}, expected_image),
            ("text.onnx", {"input_ids": ids}, expected_text),
        ):
            outputs = run_onnx_if_available(out_dir / name, feeds)
            if outputs is not None:
                diff = float(np.abs(outputs[0] - expected).max())
                if diff > 1e-4:
                    raise AssertionError(f"{name}: ONNX differs from PyTorch by {diff}")
                log(f"{name}: max |onnx - torch| = {diff:.2e}")
        for path in out_dir.iterdir():
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"{path} is {path.stat().st_size} bytes, over 50 MB")
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p in sorted(out_dir.iterdir())
                          if p.suffix == ".onnx")
        log(f"exported {MODEL_ID} {version} to {out_dir} ({sizes})")
        return manifest
    finally:
        torch.set_num_threads(threads)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Export a training run as models/lookbook-emoji.")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "models" / MODEL_ID)
    parser.add_argument("--version", help="default 1.0.0-e<epochs>")
    parser.add_argument("--data", type=Path, help="dataset directory (default: the run's)")
    parser.add_argument("--checkpoint", type=Path)
    args = parser.parse_args(argv)
    export_run(args.run, args.out, args.version, args.data, args.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
