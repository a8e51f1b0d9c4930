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
    # Scene crops (Shop The Look): with this probability an image gets, instead of a solid
    # background, a patterned one like the detector's scenes (gradient, stripes, checker, smooth
    # noise), a neighbouring object (another image of the batch) partly in frame behind it, and a
    # lower resolution (a small object's crop, upscaled). 0: the original recipe.
    p_scene: float = 0.0
    p_lowres: float = 0.5  # of the scene-style images


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


def _patterned_backgrounds(n: int, h: int, w: int, gen: torch.Generator) -> Tensor:
    """[n, 3, h, w] in [0, 1] on the CPU: per image a gradient, stripes, a checkerboard or smooth
    colour noise between two random colours (the detector scenes' kinds, at crop scale)."""
    kind = torch.randint(0, 4, (n,), generator=gen)
    a, b = torch.rand(n, 3, 1, 1, generator=gen), torch.rand(n, 3, 1, 1, generator=gen)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    theta = torch.rand(n, generator=gen) * 2 * math.pi
    t = xx * torch.cos(theta)[:, None, None] + yy * torch.sin(theta)[:, None, None]  # [n, h, w]
    lo, hi = t.amin(dim=(1, 2), keepdim=True), t.amax(dim=(1, 2), keepdim=True)
    gradient = (t - lo) / (hi - lo).clamp_min(1e-6)
    period = torch.exp(_uniform(n, math.log(0.08), math.log(0.8), gen))[:, None, None]
    phase, duty = torch.rand(n, 1, 1, generator=gen), _uniform(n, 0.3, 0.7, gen)[:, None, None]
    stripes = (torch.frac(t / period + phase) < duty).float()
    cell = period
    checker = ((torch.floor(xx / cell) + torch.floor(yy / cell)) % 2 == 0).float()
    noise = F.interpolate(torch.rand(n, 3, 4, 4, generator=gen), size=(h, w), mode="bicubic",
                          align_corners=False).clamp(0, 1)
    mix = torch.stack([gradient, stripes, checker], dim=1)[torch.arange(n), kind.clamp(max=2)][:, None]  # [n, 1, h, w]
    out = a + (b - a) * mix
    return torch.where((kind == 3)[:, None, None, None], noise, out)


def _scene_composite(warped: Tensor, premult: Tensor, solid: Tensor, gen: torch.Generator,
                     cfg: AugmentConfig) -> Tensor:
    """Premultiplied RGBA [N, 4, H, W] → RGB: for the scene-style share, the object over a
    neighbour (another image of the batch, mostly out of frame) over a patterned background,
    some at a lower resolution; the rest over ``solid`` colours as before."""
    n, _, h, w = warped.shape
    device = warped.device
    scene = torch.rand(n, generator=gen) < cfg.p_scene
    bg = torch.where(scene[:, None, None, None], _patterned_backgrounds(n, h, w, gen),
                     solid[:, :, None, None].expand(n, 3, h, w))
    # The neighbour: the next image of the batch, scaled 0.6–1.2 and pushed 0.7–1.2 of the
    # frame towards a random side, so only part of it shows behind the object.
    scale = _uniform(n, 1 / 1.2, 1 / 0.6, gen)
    angle = torch.rand(n, generator=gen) * 2 * math.pi
    dist = _uniform(n, 0.7, 1.2, gen) * 2
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = scale, scale
    theta[:, 0, 2], theta[:, 1, 2] = dist * torch.cos(angle), dist * torch.sin(angle)
    grid = F.affine_grid(theta.to(device), [n, 4, h, w], align_corners=False)
    neighbour = F.grid_sample(premult.roll(1, dims=0), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    neighbour = neighbour * scene.to(device, neighbour.dtype)[:, None, None, None]
    under = neighbour[:, :3] + bg.to(device) * (1.0 - neighbour[:, 3:])
    rgb = warped[:, :3] + under * (1.0 - warped[:, 3:])
    # A small object's crop, upscaled: down to 16–48 px (one size per step) and back.
    low = scene & (torch.rand(n, generator=gen) < cfg.p_lowres)
    size = int(torch.randint(16, 49, (1,), generator=gen))
    if bool(low.any()) and size < h:
        blurred = F.interpolate(F.interpolate(rgb, size=(size, size), mode="bilinear", align_corners=False,
                                              antialias=False), size=(h, w), mode="bilinear", align_corners=False)
        rgb = torch.where(low.to(device)[:, None, None, None], blurred, rgb)
    return rgb


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
    if cfg.p_scene > 0:
        rgb = _scene_composite(warped, premult, bg, gen, cfg)
    else:
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
