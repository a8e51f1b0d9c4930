"""Deterministic test images: exact-size, wide, tall with alpha, and photo-like."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Legacy RandomState: its streams are frozen across NumPy versions.
SEED = 20240611


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    return x / max(width - 1, 1), y / max(height - 1, 1)


def square_64(rng: np.random.RandomState) -> Image.Image:
    """64×64 RGB: colour ramps, a checkerboard and noise (the lookbook fixture's exact size,
    so nothing is resampled)."""
    x, y = _grid(64, 64)
    checker = ((np.arange(64)[:, None] // 8 + np.arange(64)[None, :] // 8) % 2) * 60.0
    r = 255 * x
    g = 255 * y
    b = 127 + 100 * np.sin(6 * np.pi * x * y) + checker - 30
    rgb = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (64, 64, 3))
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")


def wide_200x120(rng: np.random.RandomState) -> Image.Image:
    x, y = _grid(200, 120)
    rgb = np.stack([200 * x + 30, 80 + 120 * y, 220 - 180 * x * y], axis=-1)
    img = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        cx, cy, rad = rng.randint(0, 200), rng.randint(0, 120), rng.randint(8, 40)
        colour = tuple(int(c) for c in rng.randint(0, 256, 3))
        draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad), fill=colour)
    draw.rectangle((150, 10, 190, 50), outline=(255, 255, 255), width=3)
    return img


def tall_alpha_37x90(rng: np.random.RandomState) -> Image.Image:
    """RGBA with a fully transparent band, a soft alpha ramp and an opaque shape. The
    colour under transparent pixels is noise, so dropping alpha instead of flattening it
    onto the background gives a visibly different result."""
    width, height = 37, 90
    x, y = _grid(width, height)
    rgb = np.stack([255 * (1 - y), 60 + 150 * x, 40 + 200 * y * x], axis=-1)
    alpha = np.full((height, width), 255.0)
    alpha[:20] = 0  # fully transparent top band
    alpha[20:50] = np.linspace(0, 255, 30)[:, None]  # vertical ramp
    alpha[60:75, 5:32] = 0  # a transparent hole
    noise = rng.randint(0, 256, (height, width, 3))
    rgb = np.where(alpha[..., None] == 0, noise, rgb)
    rgba = np.dstack([np.clip(np.rint(rgb), 0, 255), alpha]).astype(np.uint8)
    img = Image.fromarray(rgba, "RGBA")
    draw = ImageDraw.Draw(img)
    draw.ellipse((6, 76, 30, 88), fill=(250, 30, 90, 255))
    return img


def photo_like_300x300(rng: np.random.RandomState) -> Image.Image:
    x, y = _grid(300, 300)
    sky = np.stack([90 + 100 * y, 140 + 80 * y, 235 - 60 * y], axis=-1)
    img = Image.fromarray(np.clip(np.rint(sky), 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 200, 300, 300), fill=(70, 130, 60))  # ground
    draw.ellipse((210, 30, 270, 90), fill=(250, 220, 90))  # sun
    draw.polygon([(40, 200), (120, 80), (200, 200)], fill=(120, 110, 130))  # mountain
    draw.rectangle((120, 150, 180, 230), fill=(180, 60, 50))  # a red box
    draw.ellipse((60, 210, 140, 260), fill=(230, 230, 240))  # a white bowl
    img = img.filter(ImageFilter.GaussianBlur(2))
    noisy = np.asarray(img, dtype=np.float64) + rng.normal(0, 4, (300, 300, 3))
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")


FIXTURE_IMAGE_FILES = (
    "square-64.png",
    "wide-200x120.jpg",
    "tall-alpha-37x90.png",
    "photo-like-300x300.jpg",
)


def write_fixture_images(out_dir: Path) -> list[Path]:
    """Writes the images in FIXTURE_IMAGE_FILES order and returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(SEED)
    images = (
        square_64(rng),
        wide_200x120(rng),
        tall_alpha_37x90(rng),
        photo_like_300x300(rng),
    )
    paths = []
    for name, img in zip(FIXTURE_IMAGE_FILES, images):
        path = out_dir / name
        if name.endswith(".jpg"):
            img.save(path, format="JPEG", quality=95)
        else:
            img.save(path, format="PNG")
        paths.append(path)
    return paths
