"""Reference image preprocessing with Pillow, driven by a model directory's config.

One internal `PreprocessSpec` is built from any of the three formats (the `lookbook.json`
manifest's `image.preprocess`, a Hugging Face `preprocessor_config.json`, an OpenCLIP
`preprocess_cfg.json`); `preprocess` then runs:

1. Decode and convert to RGBA, then flatten onto ``background`` with
   ``Image.alpha_composite`` (as transformers' ``convert_rgb``), giving RGB bytes.
2. Resize with Pillow (``Image.resize`` with the spec's filter, Pillow's default
   ``reducing_gap=None``; Pillow returns an unchanged copy when the size already matches):
   - ``shortest_edge``: the shorter side becomes ``size`` and the longer side
     ``floor(size * long / short)`` (integer floor, as transformers'
     ``get_resize_output_image_size`` ``int(...)``, torchvision and transformers.js do),
     then a center crop of ``crop`` × ``crop`` at ``left = (w - crop) // 2``,
     ``top = (h - crop) // 2`` (floor, as transformers' ``center_crop`` and
     transformers.js; torchvision's ``CenterCrop`` rounds half to even instead).
   - ``squash``: resize straight to ``size`` × ``size``, ignoring aspect.
3. ``x = float32(float64(byte) * rescale)``, then ``(x - mean) / std`` in float32 (the
   arithmetic of transformers' ``rescale`` and ``normalize``), RGB, laid out CHW.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
from PIL import Image

RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}
# transformers' `resample` integers are PIL.Image.Resampling values.
HF_RESAMPLE = {0: "nearest", 2: "bilinear", 3: "bicubic"}
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class PreprocessSpec:
    resize: str  # shortest_edge | squash
    size: int
    crop: Optional[int]
    resample: str
    rescale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    background: tuple[int, int, int] = WHITE

    def __post_init__(self) -> None:
        if self.resize not in ("shortest_edge", "squash"):
            raise ValueError(f"unsupported resize {self.resize!r}")
        if self.resize == "shortest_edge" and self.crop is None:
            raise ValueError("shortest_edge resize needs a crop size")
        if self.resize == "squash" and self.crop is not None:
            raise ValueError("squash resize takes no crop")
        if self.resample not in RESAMPLE:
            raise ValueError(f"unsupported resample {self.resample!r}")

    @property
    def output_size(self) -> int:
        return self.crop if self.crop is not None else self.size

    def to_manifest(self) -> dict[str, Any]:
        return {
            "resize": self.resize,
            "size": self.size,
            "crop": self.crop,
            "resample": self.resample,
            "rescale": self.rescale,
            "mean": list(self.mean),
            "std": list(self.std),
            "background": list(self.background),
        }


def _triple(values: Any) -> tuple[float, float, float]:
    if isinstance(values, (int, float)):
        return (float(values),) * 3
    if len(values) != 3:
        raise ValueError(f"expected 3 channel values, got {values!r}")
    return tuple(float(v) for v in values)  # type: ignore[return-value]


def spec_from_manifest(preprocess: dict[str, Any]) -> PreprocessSpec:
    """From `lookbook.json` `image.preprocess`."""
    background = preprocess.get("background", WHITE)
    return PreprocessSpec(
        resize=preprocess["resize"],
        size=int(preprocess["size"]),
        crop=None if preprocess.get("crop") is None else int(preprocess["crop"]),
        resample=preprocess.get("resample", "bicubic"),
        rescale=float(preprocess.get("rescale", 1 / 255)),
        mean=_triple(preprocess["mean"]),
        std=_triple(preprocess["std"]),
        background=tuple(int(c) for c in background),  # type: ignore[arg-type]
    )


def _square(value: Any, what: str) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, dict) and "height" in value and value["height"] == value.get("width"):
        return int(value["height"])
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[0] == value[1]:
        return int(value[0])
    raise ValueError(f"only square {what} is supported, got {value!r}")


def spec_from_hf_preprocessor_config(config: dict[str, Any]) -> PreprocessSpec:
    """From a transformers `preprocessor_config.json` (CLIPImageProcessor and look-alikes).

    Transparent pixels are flattened onto white, as transformers' `convert_rgb` does.
    """
    if not config.get("do_resize", True):
        raise ValueError("do_resize=false is not supported")
    size = config.get("size")
    resample = HF_RESAMPLE.get(int(config.get("resample", 3)))
    if resample is None:
        raise ValueError(f"unsupported resample {config.get('resample')!r}")
    if isinstance(size, dict) and "shortest_edge" in size:
        if not config.get("do_center_crop", False):
            raise ValueError("shortest_edge without do_center_crop is not supported")
        resize, size_px = "shortest_edge", int(size["shortest_edge"])
        crop: Optional[int] = _square(config.get("crop_size", size_px), "crop_size")
    elif isinstance(size, int):  # legacy CLIP configs: an int is the shortest edge
        resize, size_px = "shortest_edge", size
        crop = _square(config.get("crop_size", size), "crop_size")
    else:
        resize, size_px = "squash", _square(size, "size")
        crop = None
        if config.get("do_center_crop", False) and _square(config["crop_size"], "crop_size") != size_px:
            raise ValueError("a center crop after a squash resize is not supported")
    normalize = config.get("do_normalize", True)
    return PreprocessSpec(
        resize=resize,
        size=size_px,
        crop=crop,
        resample=resample,
        rescale=float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True) else 1.0,
        mean=_triple(config.get("image_mean", 0.0)) if normalize else (0.0, 0.0, 0.0),
        std=_triple(config.get("image_std", 1.0)) if normalize else (1.0, 1.0, 1.0),
        background=WHITE,
    )


def spec_from_openclip_preprocess_cfg(config: dict[str, Any]) -> PreprocessSpec:
    """From an OpenCLIP / Immich `preprocess_cfg.json`.

    OpenCLIP itself drops alpha (`convert("RGB")`), which shows whatever colour the
    transparent pixels happen to hold; Lookbook flattens onto white instead, as for
    transformers. The center crop uses the same floor offset as every other layout.
    """
    size = _square(config["size"], "size")
    mode = config.get("resize_mode", "shortest")
    if config.get("mode", "RGB") != "RGB":
        raise ValueError(f"unsupported colour mode {config['mode']!r}")
    if mode not in ("shortest", "squash"):
        raise ValueError(f"unsupported resize_mode {mode!r}")
    return PreprocessSpec(
        resize="shortest_edge" if mode == "shortest" else "squash",
        size=size,
        crop=size if mode == "shortest" else None,
        resample=config.get("interpolation", "bicubic"),
        rescale=1 / 255,
        mean=_triple(config["mean"]),
        std=_triple(config["std"]),
        background=WHITE,
    )


def flatten_to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    rgba = image.convert("RGBA")
    base = Image.new("RGBA", rgba.size, (*background, 255))
    return Image.alpha_composite(base, rgba).convert("RGB")


def shortest_edge_size(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) after scaling the shorter side to ``size``; long side floored."""
    if width <= height:
        return size, size * height // width
    return size * width // height, size


def center_crop_box(width: int, height: int, crop: int) -> tuple[int, int, int, int]:
    left, top = (width - crop) // 2, (height - crop) // 2
    return left, top, left + crop, top + crop


@dataclass(frozen=True)
class Preprocessed:
    pixel_values: np.ndarray  # float32 [3, H, W]
    resized_size: tuple[int, int]  # (width, height) after resize, before crop
    crop_box: Optional[tuple[int, int, int, int]]  # (left, top, right, bottom)


def preprocess_detailed(image: Union[Image.Image, str, Path], spec: PreprocessSpec) -> Preprocessed:
    if not isinstance(image, Image.Image):
        with Image.open(image) as opened:
            opened.load()
            image = opened.copy()
    rgb = flatten_to_rgb(image, spec.background)
    resample = RESAMPLE[spec.resample]
    box = None
    if spec.resize == "shortest_edge":
        assert spec.crop is not None
        resized_size = shortest_edge_size(rgb.width, rgb.height, spec.size)
        rgb = rgb.resize(resized_size, resample=resample)
        box = center_crop_box(rgb.width, rgb.height, spec.crop)
        rgb = rgb.crop(box)
    else:
        resized_size = (spec.size, spec.size)
        rgb = rgb.resize(resized_size, resample=resample)
    pixels = np.asarray(rgb, dtype=np.uint8)
    return Preprocessed(
        pixel_values=normalize_pixels(pixels, spec),
        resized_size=resized_size,
        crop_box=box,
    )


def normalize_pixels(pixels: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """HWC uint8 RGB → CHW float32 ``(byte * rescale - mean) / std``."""
    x = (pixels.astype(np.float64) * spec.rescale).astype(np.float32)
    x = (x - np.asarray(spec.mean, dtype=np.float32)) / np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


def preprocess(image: Union[Image.Image, str, Path], spec: PreprocessSpec) -> np.ndarray:
    """float32 [3, H, W] for one image."""
    return preprocess_detailed(image, spec).pixel_values
