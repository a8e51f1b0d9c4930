"""Writes the committed test fixtures: three random-init dual encoders in the three model
directory layouts, test images, and reference outputs computed by PyTorch.

    cd training && OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.make_fixtures

Everything is seeded, and PyTorch runs on one thread, so a rerun on the same PyTorch
writes the same reference JSON byte for byte.

- ``models/fixture/``: `lookbook` layout (512-d, 64 px, context 16, WordPiece).
- ``test/fixtures/models/hf-clip-tiny/``: Hugging Face / transformers.js CLIP layout
  (48-d, 32 px, context 12, CLIP-style byte-level BPE, embeddings not normalized).
- ``test/fixtures/models/openclip-tiny/``: OpenCLIP / Immich layout (40-d, 24 px squash,
  int32 ``text`` [N, 10], WordPiece, embeddings not normalized).
- ``test/fixtures/images/``: the images the references are computed from.
- ``test/fixtures/reference/<model directory name>.json`` (``fixture.json``,
  ``hf-clip-tiny.json``, ``openclip-tiny.json``): token ids, preprocessed pixels and
  L2-normalized embeddings; see ``training/README.md`` for the schema.
"""

from __future__ import annotations

import argparse
import base64
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .bpe_tokenizer import BOS, EOS, clip_bpe_tokenizer_json, train_bpe_merges
from .export import (
    describe_onnx,
    export_image_tower,
    export_lookbook_model,
    export_text_tower,
    run_onnx_if_available,
)
from .fixture_corpus import FIXTURE_PHRASES, REFERENCE_TEXTS
from .fixture_images import FIXTURE_IMAGE_FILES, write_fixture_images
from .json_files import write_json
from .model import (
    DualEncoder,
    DualEncoderConfig,
    ImageTowerConfig,
    TextTowerConfig,
    randomize_for_fixture,
)
from .preprocess import (
    PreprocessSpec,
    preprocess_detailed,
    spec_from_hf_preprocessor_config,
    spec_from_openclip_preprocess_cfg,
)
from .tokenizer import (
    CLS,
    PAD,
    SEP,
    UNK,
    Tokenizer,
    encode_for_context,
    train_wordpiece_vocab,
    wordpiece_tokenizer_json,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
GENERATOR = "training/lookbook_training/make_fixtures.py"

# How closely the Node side must match these references. Embedding tolerances compare
# onnxruntime on the exact ids / pixel_values given here with PyTorch; pixel tolerances
# compare the service's decoding and resizing (sharp) with Pillow's.
TOLERANCES = {
    "embedding_max_abs": 1e-5,
    "embedding_min_cosine": 0.99999,
    "pixel_values_max_abs_not_resampled": 1e-5,
    "pixel_values_mean_abs_resampled": 0.04,
    "end_to_end_min_cosine": 0.995,
}
TOLERANCE_NOTES = {
    "embedding_max_abs": "max |onnx - reference| per component of the L2-normalized embedding, on the exact ids / pixel_values_b64 given (onnxruntime-node 1.30 measured <= 2e-7)",
    "embedding_min_cosine": "cosine(onnx, reference) on the exact ids / pixel_values_b64 given",
    "pixel_values_max_abs_not_resampled": "service pixel values vs pixel_values_b64 for images already at the input size (resampled: false): decode + normalize only",
    "pixel_values_mean_abs_resampled": "mean |service - pixel_values_b64| (normalized units) for resampled: true. sharp 0.35 measured: downscaling <= 0.006 with resize fastShrinkOnLoad: false (JPEG shrink-on-load alone gives up to 0.045); upscaling (tall-alpha-37x90 on the 64 px model) 0.028, as sharp ignores the kernel when enlarging",
    "end_to_end_min_cosine": "cosine(service embedding of the image file, reference); sharp measured >= 0.998. A 1 px crop offset error gives 0.993-0.996, a long side off by one 0.977-0.998, missing alpha flattening or squash-for-crop < 0.98: check resized_size / crop_box exactly",
}


@dataclass(frozen=True)
class TextEmbedder:
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    context_length: int
    pad_id: int
    with_mask: bool


def _f32(values: np.ndarray) -> list[float]:
    # Shortest decimal that reads back as the same float32: compact and exact.
    return [float(str(v)) for v in np.asarray(values, dtype=np.float32).ravel()]


def _l2_normalize(rows: np.ndarray) -> np.ndarray:
    rows = rows.astype(np.float64)
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _text_cases(tokenizer: Tokenizer, embedder: TextEmbedder) -> list[dict[str, Any]]:
    encoded = [
        encode_for_context(tokenizer, text, embedder.context_length, embedder.pad_id)
        for text in REFERENCE_TEXTS
    ]
    ids = torch.tensor([e.ids for e in encoded], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.int64)
    with torch.no_grad():
        embeddings = _l2_normalize(embedder.fn(ids, mask).numpy())
    cases = []
    for text, enc, emb in zip(REFERENCE_TEXTS, encoded, embeddings):
        case: dict[str, Any] = {"text": text, "ids": enc.ids}
        if embedder.with_mask:
            case["attention_mask"] = enc.attention_mask
        case["truncated"] = enc.truncated
        case["embedding"] = _f32(emb)
        cases.append(case)
    return cases


def _image_cases(
    image_paths: Sequence[Path],
    spec: PreprocessSpec,
    embed: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[list[dict[str, Any]], np.ndarray]:
    processed = [preprocess_detailed(path, spec) for path in image_paths]
    batch = np.stack([p.pixel_values for p in processed])
    with torch.no_grad():
        embeddings = _l2_normalize(embed(torch.from_numpy(batch)).numpy())
    cases = []
    for path, p, emb in zip(image_paths, processed, embeddings):
        with Image.open(path) as opened:
            original = opened.size
        resampled = tuple(original) != (spec.output_size, spec.output_size)
        cases.append(
            {
                "file": path.name,
                "original_size": list(original),
                "resized_size": list(p.resized_size),
                "crop_box": list(p.crop_box) if p.crop_box else None,
                "resampled": resampled,
                "shape": list(p.pixel_values.shape),
                "pixel_values_b64": base64.b64encode(
                    p.pixel_values.astype("<f4").tobytes()
                ).decode("ascii"),
                "embedding": _f32(emb),
            }
        )
    return cases, batch


def _reference(
    name: str,
    layout: str,
    model_dir: str,
    dimension: int,
    context_length: int,
    pad_id: int,
    spec: PreprocessSpec,
    texts: list[dict[str, Any]],
    images: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "model": name,
        "layout": layout,
        "model_dir": model_dir,
        "generator": GENERATOR,
        "torch_version": torch.__version__.split("+")[0],
        "dimension": dimension,
        "context_length": context_length,
        "pad_token_id": pad_id,
        "preprocess": spec.to_manifest(),
        "tolerances": TOLERANCES,
        "tolerance_notes": TOLERANCE_NOTES,
        "texts": texts,
        "images": images,
    }


def _build(cfg: DualEncoderConfig, seed: int, normalize: bool) -> DualEncoder:
    torch.manual_seed(seed)
    model = DualEncoder(cfg, normalize=normalize)
    randomize_for_fixture(model, torch.Generator().manual_seed(seed + 1))
    return model.eval()


def _check_parity(path: Path, feeds: dict[str, np.ndarray], expected: np.ndarray) -> str:
    outputs = run_onnx_if_available(path, feeds)
    if outputs is None:
        return "not run (no onnxruntime / onnx.reference in Python)"
    diff = float(np.abs(outputs[0] - expected).max())
    if diff > 1e-4:
        raise AssertionError(f"{path}: ONNX differs from PyTorch by {diff}")
    return f"max |onnx - torch| = {diff:.2e}"


def _report_onnx(path: Path, log: Callable[[str], None]) -> None:
    inputs, outputs = describe_onnx(path)
    fmt = lambda ts: ", ".join(f"{t.name} {t.dtype} {list(t.shape)}" for t in ts)  # noqa: E731
    log(f"  {path.name} ({path.stat().st_size} bytes): {fmt(inputs)} -> {fmt(outputs)}")


# ---------------------------------------------------------------------------------------


def make_lookbook_fixture(
    root: Path, image_paths: Sequence[Path], write_onnx: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    out_dir = root / "models" / "fixture"
    vocab = train_wordpiece_vocab(FIXTURE_PHRASES, vocab_size=700)
    tokenizer_json = wordpiece_tokenizer_json(vocab)
    tokenizer = Tokenizer(tokenizer_json)
    pad_id = tokenizer.token_to_id(PAD)
    assert pad_id == 0
    cfg = DualEncoderConfig(
        dim=512,
        image=ImageTowerConfig(image_size=64, stem_channels=(16, 32), width=64, layers=2, heads=4),
        text=TextTowerConfig(
            vocab_size=len(vocab), context_length=16, width=64, layers=2, heads=4, pad_id=pad_id
        ),
    )
    model = _build(cfg, seed=1, normalize=True)
    spec = PreprocessSpec(
        resize="shortest_edge",
        size=64,
        crop=64,
        resample="bicubic",
        rescale=1 / 255,
        mean=CLIP_MEAN,
        std=CLIP_STD,
        background=(255, 255, 255),
    )
    export_lookbook_model(
        model,
        tokenizer_json,
        out_dir,
        model_id="lookbook-fixture",
        version="0.0.1",
        description="random-init fixture, for tests only",
        preprocess=spec,
        write_onnx=write_onnx,
    )
    (out_dir / "README.md").write_text(FIXTURE_README, encoding="utf-8")
    embedder = TextEmbedder(lambda ids, mask: model.text(ids), 16, pad_id, with_mask=False)
    texts = _text_cases(tokenizer, embedder)
    images, batch = _image_cases(image_paths, spec, model.image)
    if write_onnx:
        ids = np.array([t["ids"] for t in texts], dtype=np.int64)
        with torch.no_grad():
            expected_image = model.image(torch.from_numpy(batch)).numpy()
            expected_text = model.text(torch.from_numpy(ids)).numpy()
        image_onnx, text_onnx = out_dir / "image.onnx", out_dir / "text.onnx"
        log(f"fixture: image {_check_parity(image_onnx, {'pixel_values': batch}, expected_image)}")
        log(f"fixture: text {_check_parity(text_onnx, {'input_ids': ids}, expected_text)}")
        _report_onnx(image_onnx, log)
        _report_onnx(text_onnx, log)
    return _reference(
        "lookbook-fixture", "lookbook", "models/fixture", cfg.dim, 16, pad_id, spec, texts, images
    )


def make_hf_clip_fixture(
    root: Path, image_paths: Sequence[Path], write_onnx: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    out_dir = root / "test" / "fixtures" / "models" / "hf-clip-tiny"
    context_length, dim = 12, 48
    tokenizer_json = clip_bpe_tokenizer_json(train_bpe_merges(FIXTURE_PHRASES, num_merges=60))
    tokenizer = Tokenizer(tokenizer_json)
    bos_id, eos_id = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
    assert eos_id == max(tokenizer.vocab.values())  # CLIP's argmax pooling needs this
    vocab_size = len(tokenizer.vocab)
    cfg = DualEncoderConfig(
        dim=dim,
        image=ImageTowerConfig(
            image_size=32, stem_channels=(8, 16), width=32, layers=2, heads=2, activation="quick_gelu"
        ),
        text=TextTowerConfig(
            vocab_size=vocab_size,
            context_length=context_length,
            width=32,
            layers=2,
            heads=2,
            pad_id=eos_id,
            pooling="eos_argmax",
            causal=True,
            activation="quick_gelu",
        ),
    )
    model = _build(cfg, seed=2, normalize=False)
    preprocessor_config = {
        "crop_size": {"height": 32, "width": 32},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": list(CLIP_MEAN),
        "image_processor_type": "CLIPImageProcessor",
        "image_std": list(CLIP_STD),
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": 32},
    }
    spec = spec_from_hf_preprocessor_config(preprocessor_config)
    write_json(out_dir / "tokenizer.json", tokenizer_json)
    write_json(
        out_dir / "tokenizer_config.json",
        {
            "add_prefix_space": False,
            "bos_token": BOS,
            "clean_up_tokenization_spaces": False,
            "do_lower_case": True,
            "eos_token": EOS,
            "errors": "replace",
            "model_max_length": context_length,
            "pad_token": EOS,
            "tokenizer_class": "CLIPTokenizer",
            "unk_token": EOS,
        },
    )
    write_json(out_dir / "preprocessor_config.json", preprocessor_config)
    write_json(
        out_dir / "config.json",
        {
            "_lookbook_fixture": "random-init, for tests only: ONNX graphs with the inputs and "
            "outputs of a transformers.js CLIP export, not a transformers checkpoint",
            "architectures": ["CLIPModel"],
            "model_type": "clip",
            "projection_dim": dim,
            "text_config": {
                "model_type": "clip_text_model",
                "vocab_size": vocab_size,
                "hidden_size": cfg.text.width,
                "num_hidden_layers": cfg.text.layers,
                "num_attention_heads": cfg.text.heads,
                "max_position_embeddings": context_length,
                "hidden_act": "quick_gelu",
                "bos_token_id": bos_id,
                "eos_token_id": eos_id,
                "pad_token_id": eos_id,
            },
            "vision_config": {
                "model_type": "clip_vision_model",
                "image_size": 32,
                "num_channels": 3,
                "hidden_size": cfg.image.width,
                "num_hidden_layers": cfg.image.layers,
                "num_attention_heads": cfg.image.heads,
                "hidden_act": "quick_gelu",
            },
        },
    )
    embedder = TextEmbedder(lambda ids, mask: model.text(ids, mask), context_length, eos_id, True)
    texts = _text_cases(tokenizer, embedder)
    images, batch = _image_cases(image_paths, spec, model.image)
    if write_onnx:
        vision, text = out_dir / "onnx" / "vision_model.onnx", out_dir / "onnx" / "text_model.onnx"
        export_image_tower(model.image, vision, hidden_output="last_hidden_state")
        export_text_tower(
            model.text,
            text,
            mask_input="attention_mask",
            hidden_output="last_hidden_state",
            dynamic_sequence=True,
        )
        ids = np.array([t["ids"] for t in texts], dtype=np.int64)
        mask = np.array([t["attention_mask"] for t in texts], dtype=np.int64)
        with torch.no_grad():
            expected_image = model.image(torch.from_numpy(batch)).numpy()
            expected_text = model.text(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
        log(f"hf-clip-tiny: vision {_check_parity(vision, {'pixel_values': batch}, expected_image)}")
        log(f"hf-clip-tiny: text {_check_parity(text, {'input_ids': ids, 'attention_mask': mask}, expected_text)}")
        _report_onnx(vision, log)
        _report_onnx(text, log)
    return _reference(
        "hf-clip-tiny",
        "hf-clip",
        "test/fixtures/models/hf-clip-tiny",
        dim,
        context_length,
        eos_id,
        spec,
        texts,
        images,
    )


def make_openclip_fixture(
    root: Path, image_paths: Sequence[Path], write_onnx: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    out_dir = root / "test" / "fixtures" / "models" / "openclip-tiny"
    context_length, dim = 10, 40
    vocab = train_wordpiece_vocab(FIXTURE_PHRASES, vocab_size=300)
    tokenizer_json = wordpiece_tokenizer_json(vocab)
    tokenizer = Tokenizer(tokenizer_json)
    pad_id = tokenizer.token_to_id(PAD)
    cfg = DualEncoderConfig(
        dim=dim,
        image=ImageTowerConfig(image_size=24, stem_channels=(8, 16), width=32, layers=1, heads=2),
        text=TextTowerConfig(
            vocab_size=len(vocab), context_length=context_length, width=32, layers=1, heads=2, pad_id=pad_id
        ),
    )
    model = _build(cfg, seed=3, normalize=False)
    preprocess_cfg = {
        "size": [24, 24],
        "mode": "RGB",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
        "interpolation": "bicubic",
        "resize_mode": "squash",
        "fill_color": 0,
    }
    spec = spec_from_openclip_preprocess_cfg(preprocess_cfg)
    write_json(out_dir / "visual" / "preprocess_cfg.json", preprocess_cfg)
    write_json(out_dir / "textual" / "tokenizer.json", tokenizer_json)
    write_json(
        out_dir / "textual" / "tokenizer_config.json",
        {
            "clean_up_tokenization_spaces": True,
            "cls_token": CLS,
            "do_lower_case": True,
            "model_max_length": context_length,
            "pad_token": PAD,
            "sep_token": SEP,
            "tokenizer_class": "BertTokenizer",
            "unk_token": UNK,
        },
    )
    write_json(
        out_dir / "config.json",
        {
            "embed_dim": dim,
            "vision_cfg": {"image_size": 24, "width": cfg.image.width, "layers": cfg.image.layers},
            "text_cfg": {
                "context_length": context_length,
                "vocab_size": len(vocab),
                "width": cfg.text.width,
                "heads": cfg.text.heads,
                "layers": cfg.text.layers,
            },
        },
    )
    embedder = TextEmbedder(lambda ids, mask: model.text(ids), context_length, pad_id, False)
    texts = _text_cases(tokenizer, embedder)
    images, batch = _image_cases(image_paths, spec, model.image)
    if write_onnx:
        visual, textual = out_dir / "visual" / "model.onnx", out_dir / "textual" / "model.onnx"
        export_image_tower(model.image, visual, input_name="image", output_name="embedding")
        export_text_tower(
            model.text, textual, input_name="text", output_name="embedding", input_dtype=torch.int32
        )
        ids = np.array([t["ids"] for t in texts], dtype=np.int32)
        with torch.no_grad():
            expected_image = model.image(torch.from_numpy(batch)).numpy()
            expected_text = model.text(torch.from_numpy(ids).long()).numpy()
        log(f"openclip-tiny: visual {_check_parity(visual, {'image': batch}, expected_image)}")
        log(f"openclip-tiny: textual {_check_parity(textual, {'text': ids}, expected_text)}")
        _report_onnx(visual, log)
        _report_onnx(textual, log)
    return _reference(
        "openclip-tiny",
        "openclip",
        "test/fixtures/models/openclip-tiny",
        dim,
        context_length,
        pad_id,
        spec,
        texts,
        images,
    )


FIXTURE_README = """\
# lookbook-fixture

A **random-init** dual encoder in the `lookbook` layout (see `docs/model-format.md`),
**for tests only**: its embeddings carry no meaning. It is small (512-d output, 64 px
input, context length 16) so tests load it in milliseconds.

Generated by `training/lookbook_training/make_fixtures.py` (fixed seeds):

    cd training && OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.make_fixtures

Reference outputs computed by PyTorch are in `test/fixtures/reference/fixture.json`.
"""

TEST_FIXTURES_README = """\
# Test fixtures

Generated by `training/lookbook_training/make_fixtures.py` with fixed seeds; do not edit
by hand. Regenerate with

    cd training && OMP_NUM_THREADS=1 /usr/bin/python3 -m lookbook_training.make_fixtures

- `images/`: test images (an exact 64×64 PNG, a 200×120 JPEG, a 37×90 RGBA PNG with
  transparent regions, a 300×300 photo-like JPEG).
- `models/hf-clip-tiny/`: a random-init model in the Hugging Face / transformers.js CLIP
  layout (48-d, 32 px, context 12, byte-level BPE, outputs not normalized).
- `models/openclip-tiny/`: a random-init model in the OpenCLIP / Immich layout (40-d,
  24 px squash, int32 `text` input, context 10, WordPiece, outputs not normalized).
- `reference/<model directory name>.json`: `fixture.json` (for `models/fixture/`,
  id `lookbook-fixture`), `hf-clip-tiny.json`, `openclip-tiny.json`:
  token ids, preprocessed pixel values and L2-normalized PyTorch embeddings, with
  tolerances. Schema in `training/README.md`.

All models are random-init, for tests only.
"""


def generate(
    root: Path = REPO_ROOT, write_onnx: bool = True, log: Callable[[str], None] = print
) -> list[Path]:
    """Writes every fixture under ``root``; returns the reference JSON paths."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: bit-identical reductions, run to run
    try:
        fixtures = root / "test" / "fixtures"
        image_paths = write_fixture_images(fixtures / "images")
        assert [p.name for p in image_paths] == list(FIXTURE_IMAGE_FILES)
        (fixtures / "README.md").write_text(TEST_FIXTURES_README, encoding="utf-8")
        written = []
        for make in (make_lookbook_fixture, make_hf_clip_fixture, make_openclip_fixture):
            reference = make(root, image_paths, write_onnx, log)
            # Named after the model's directory: reference/fixture.json for models/fixture.
            path = fixtures / "reference" / f"{Path(reference['model_dir']).name}.json"
            write_json(path, reference)
            written.append(path)
        return written
    finally:
        torch.set_num_threads(threads)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out-root",
        type=Path,
        default=REPO_ROOT,
        help="repository root to write models/ and test/fixtures/ under (default: %(default)s)",
    )
    parser.add_argument(
        "--no-onnx", action="store_true", help="skip ONNX export (references only; for tests)"
    )
    args = parser.parse_args(argv)
    for path in generate(args.out_root.resolve(), write_onnx=not args.no_onnx):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
