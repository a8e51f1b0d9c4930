"""Batched image augmentation in PyTorch (CPU or GPU), and the evaluation transform.

Training: RGBA uint8 → premultiplied float → random zoom (0.7–1.35, with a shift that keeps
the glyph in frame when zoomed out and the crop inside the image when zoomed in) and a
horizontal flip (not for concepts where direction matters) by one ``grid_sample`` →
composited onto a random solid background colour (white with ``p_white``) → brightness,
contrast and saturation jitter (no hue: colour is part of many concepts) → CLIP
normalization. Every random number comes from the ``torch.Generator`` passed in (on the
CPU), so a step's augmentation depends only on its seed.

Evaluation: composite onto white, normalize: the service flattens alpha onto white
(manifest ``background`` [255, 255, 255]) and the 64×64 images need no resize.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class AugmentConfig:
    zoom_min: float = 0.7
    zoom_max: float = 1.35
    p_flip: float = 0.5
    p_white: float = 0.25
    brightness: float = 0.25  # factor in [1 - b, 1 + b]
    contrast: float = 0.25
    saturation: float = 0.3


def _normalize(rgb: Tensor) -> Tensor:
    mean = torch.tensor(CLIP_MEAN, device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=rgb.device, dtype=rgb.dtype).view(1, 3, 1, 1)
    return (rgb - mean) / std


def to_float_rgba(images: Tensor) -> Tensor:
    """uint8 [N, H, W, 4] → float32 [N, 4, H, W] in [0, 1]."""
    return images.permute(0, 3, 1, 2).float().div_(255.0)


def eval_transform(images: Tensor) -> Tensor:
    """uint8 RGBA [N, H, W, 4] → normalized float [N, 3, H, W], flattened onto white."""
    x = to_float_rgba(images)
    rgb, alpha = x[:, :3], x[:, 3:]
    return _normalize(rgb * alpha + (1.0 - alpha))


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> Tensor:
    return torch.rand(n, generator=gen) * (hi - lo) + lo


def augment(
    images: Tensor, flip_allowed: Tensor, gen: torch.Generator, cfg: AugmentConfig = AugmentConfig()
) -> Tensor:
    """uint8 RGBA [N, H, W, 4] (any device) + bool [N] → normalized float [N, 3, H, W].

    ``gen`` is a CPU generator; the parameters are drawn on the CPU and moved to the
    images' device, so the same seed gives the same augmentation on any device."""
    n, device = images.shape[0], images.device
    x = to_float_rgba(images)
    premult = torch.cat([x[:, :3] * x[:, 3:], x[:, 3:]], dim=1)

    zoom = torch.exp(_uniform(n, math.log(cfg.zoom_min), math.log(cfg.zoom_max), gen))
    t = 1.0 / zoom  # sampling window half-size in normalized coordinates
    room = (1.0 - t).abs()
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * room[:, None]
    flip = (torch.rand(n, generator=gen) < cfg.p_flip) & flip_allowed.cpu()
    sx = torch.where(flip, -t, t)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = sx, t
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta.to(device), list(premult.shape), align_corners=False)
    warped = F.grid_sample(premult, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    white = torch.rand(n, generator=gen) < cfg.p_white
    bg = torch.where(white[:, None], torch.ones(n, 3), torch.rand(n, 3, generator=gen))
    alpha = warped[:, 3:]
    rgb = warped[:, :3] + bg.to(device)[:, :, None, None] * (1.0 - alpha)

    b = _uniform(n, 1 - cfg.brightness, 1 + cfg.brightness, gen).to(device)
    c = _uniform(n, 1 - cfg.contrast, 1 + cfg.contrast, gen).to(device)
    s = _uniform(n, 1 - cfg.saturation, 1 + cfg.saturation, gen).to(device)
    rgb = rgb * b[:, None, None, None]
    gray = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).unsqueeze(1)
    mean = gray.mean(dim=(2, 3), keepdim=True)
    rgb = (rgb - mean) * c[:, None, None, None] + mean
    gray = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]).unsqueeze(1)
    rgb = gray + (rgb - gray) * s[:, None, None, None]
    return _normalize(rgb.clamp_(0.0, 1.0))
