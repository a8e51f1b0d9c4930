"""A small anchor-free detector in the YOLOv8 layout.

- backbone: Conv(3×3, stride 2) stages with C2f blocks (CSP: split, n bottlenecks, concat,
  1×1) to strides 8 / 16 / 32, SPPF at stride 32; BatchNorm + SiLU everywhere;
- neck: PAN (top-down upsample + concat + C2f, then bottom-up stride-2 conv + concat + C2f);
- head: per level, decoupled branches — box: two 3×3 convs → 4 × ``reg_max`` logits (a
  distribution over distances l, t, r, b in stride units: DFL); class: two 3×3 convs → C logits.

``forward`` returns the raw per-level maps (training). ``predict`` decodes them to the
Ultralytics output: ``[N, 4 + C, A]`` with cx, cy, w, h in input pixels and sigmoid class
scores, anchors ordered level by level (stride 8, 16, 32), row-major within a level.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn
import torch.nn.functional as F

STRIDES = (8, 16, 32)

# widths: stem, stride 4, 8, 16, 32; depths: C2f repeats at stride 4, 8, 16, 32
PRESETS: Dict[str, Dict[str, Tuple[int, ...]]] = {
    "n": {"widths": (16, 32, 64, 128, 256), "depths": (1, 2, 2, 1)},  # YOLOv8n's widths and depths
    "s": {"widths": (32, 64, 128, 256, 512), "depths": (1, 2, 2, 1)},  # YOLOv8s's
    "tiny": {"widths": (8, 16, 32, 64, 128), "depths": (1, 1, 1, 1)},  # smoke run, tests
}


@dataclass
class DetectorConfig:
    num_classes: int
    names: Tuple[str, ...] = ()
    image_size: int = 256
    widths: Tuple[int, ...] = PRESETS["n"]["widths"]
    depths: Tuple[int, ...] = PRESETS["n"]["depths"]
    reg_max: int = 16

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "DetectorConfig":
        d = dict(d)
        for k in ("names", "widths", "depths"):
            if k in d:
                d[k] = tuple(d[k])
        return DetectorConfig(**d)

    @staticmethod
    def preset(name: str, **kw) -> "DetectorConfig":
        return DetectorConfig(widths=PRESETS[name]["widths"], depths=PRESETS[name]["depths"], **kw)


class Conv(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool = True):
        super().__init__()
        self.cv1 = Conv(c, c, 3)
        self.cv2 = Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x: Tensor) -> Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """CSP bottleneck with two convolutions (YOLOv8's C2f)."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = False):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(c1, 2 * self.c, 1)
        self.cv2 = Conv((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x: Tensor) -> Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1: int, c2: int, k: int = 5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1)
        self.cv2 = Conv(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class DFL(nn.Module):
    """Expected value of the softmax over ``reg_max`` bins (a fixed 1×1 conv)."""

    def __init__(self, reg_max: int = 16):
        super().__init__()
        self.conv = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(reg_max, dtype=torch.float32).view(1, reg_max, 1, 1)
        self.reg_max = reg_max

    def forward(self, x: Tensor) -> Tensor:  # [B, 4·reg_max, A] → [B, 4, A]
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.reg_max, a).transpose(2, 1).softmax(1)).view(b, 4, a)


def make_anchors(shapes: Sequence[Tuple[int, int]], strides: Sequence[int], offset: float = 0.5,
                 device=None, dtype=torch.float32) -> Tuple[Tensor, Tensor]:
    """Anchor points [A, 2] (x, y in grid units of their level, cell centres) and strides [A, 1]."""
    points, stride_t = [], []
    for (h, w), s in zip(shapes, strides):
        sx = torch.arange(w, device=device, dtype=dtype) + offset
        sy = torch.arange(h, device=device, dtype=dtype) + offset
        yy, xx = torch.meshgrid(sy, sx, indexing="ij")
        points.append(torch.stack((xx, yy), -1).view(-1, 2))
        stride_t.append(torch.full((h * w, 1), float(s), device=device, dtype=dtype))
    return torch.cat(points), torch.cat(stride_t)


def dist2bbox(distance: Tensor, anchor_points: Tensor, xywh: bool = True, dim: int = -1) -> Tensor:
    lt, rb = distance.chunk(2, dim)
    x1y1 = anchor_points - lt
    x2y2 = anchor_points + rb
    if xywh:
        return torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), dim)
    return torch.cat((x1y1, x2y2), dim)


class Detect(nn.Module):
    def __init__(self, num_classes: int, channels: Sequence[int], reg_max: int = 16, strides=STRIDES):
        super().__init__()
        self.nc, self.reg_max, self.strides = num_classes, reg_max, tuple(strides)
        self.no = num_classes + 4 * reg_max
        c2 = max(16, channels[0] // 4, 4 * reg_max)
        c3 = max(channels[0], min(num_classes, 100))
        self.cv2 = nn.ModuleList(
            nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1)) for c in channels)
        self.cv3 = nn.ModuleList(
            nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, num_classes, 1)) for c in channels)
        self.dfl = DFL(reg_max)

    def init_bias(self, image_size: int) -> None:
        """YOLOv8's prior: box logits 1.0; class logits for ~5 objects per image of an image_size
        image spread over the level's cells and the classes."""
        for a, b, s in zip(self.cv2, self.cv3, self.strides):
            a[-1].bias.data[:] = 1.0
            b[-1].bias.data[: self.nc] = math.log(5 / self.nc / (image_size / s) ** 2)

    def forward(self, feats: List[Tensor]) -> List[Tensor]:
        return [torch.cat((self.cv2[i](x), self.cv3[i](x)), 1) for i, x in enumerate(feats)]


class DetectorNet(nn.Module):
    def __init__(self, cfg: DetectorConfig):
        super().__init__()
        self.cfg = cfg
        w0, w1, w2, w3, w4 = cfg.widths
        d1, d2, d3, d4 = cfg.depths
        # backbone
        self.stem = Conv(3, w0, 3, 2)  # /2
        self.down1, self.c2f1 = Conv(w0, w1, 3, 2), C2f(w1, w1, d1, True)  # /4
        self.down2, self.c2f2 = Conv(w1, w2, 3, 2), C2f(w2, w2, d2, True)  # /8 → P3
        self.down3, self.c2f3 = Conv(w2, w3, 3, 2), C2f(w3, w3, d3, True)  # /16 → P4
        self.down4, self.c2f4 = Conv(w3, w4, 3, 2), C2f(w4, w4, d4, True)  # /32
        self.sppf = SPPF(w4, w4)  # → P5
        # neck (PAN)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.td4 = C2f(w4 + w3, w3, d4)  # top-down at /16
        self.td3 = C2f(w3 + w2, w2, d4)  # top-down at /8 → N3
        self.bu3 = Conv(w2, w2, 3, 2)
        self.bu4 = C2f(w2 + w3, w3, d4)  # bottom-up at /16 → N4
        self.bu4d = Conv(w3, w3, 3, 2)
        self.bu5 = C2f(w3 + w4, w4, d4)  # bottom-up at /32 → N5
        self.head = Detect(cfg.num_classes, (w2, w3, w4), cfg.reg_max, STRIDES)
        self.head.init_bias(cfg.image_size)
        self._anchor_cache: Dict[tuple, Tuple[Tensor, Tensor]] = {}

    def forward(self, x: Tensor) -> List[Tensor]:
        """x: [B, 3, S, S] RGB in 0..1 → per level [B, 4·reg_max + C, S/s, S/s]."""
        x = self.c2f1(self.down1(self.stem(x)))
        p3 = self.c2f2(self.down2(x))
        p4 = self.c2f3(self.down3(p3))
        p5 = self.sppf(self.c2f4(self.down4(p4)))
        t4 = self.td4(torch.cat((self.up(p5), p4), 1))
        n3 = self.td3(torch.cat((self.up(t4), p3), 1))
        n4 = self.bu4(torch.cat((self.bu3(n3), t4), 1))
        n5 = self.bu5(torch.cat((self.bu4d(n4), p5), 1))
        return self.head([n3, n4, n5])

    def anchors(self, feats: List[Tensor]) -> Tuple[Tensor, Tensor]:
        shapes = tuple((int(f.shape[2]), int(f.shape[3])) for f in feats)
        key = (shapes, feats[0].device, feats[0].dtype)
        if key not in self._anchor_cache:
            self._anchor_cache[key] = make_anchors(shapes, STRIDES, device=feats[0].device)
        return self._anchor_cache[key]

    def flatten(self, feats: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Per-level maps → (box distribution logits [B, 4·reg_max, A], class logits [B, C, A])."""
        b = feats[0].shape[0]
        x = torch.cat([f.reshape(b, self.head.no, -1) for f in feats], 2)
        return x.split((4 * self.cfg.reg_max, self.cfg.num_classes), 1)

    def decode(self, feats: List[Tensor], anchor_points: Tensor = None, stride_t: Tensor = None) -> Tensor:
        """Per-level maps → [B, 4 + C, A]: cx, cy, w, h in input pixels, sigmoid scores."""
        if anchor_points is None:
            anchor_points, stride_t = self.anchors(feats)
        box, cls = self.flatten(feats)
        dist = self.head.dfl(box)  # [B, 4, A] in stride units
        xywh = dist2bbox(dist, anchor_points.t().unsqueeze(0), xywh=True, dim=1) * stride_t.t().unsqueeze(0)
        return torch.cat((xywh, cls.sigmoid()), 1)

    def predict(self, x: Tensor) -> Tensor:
        return self.decode(self(x))


class ExportModel(nn.Module):
    """The ONNX graph: images [N, 3, S, S] → output0 [N, 4 + C, A], anchors baked in for S."""

    def __init__(self, net: DetectorNet, image_size: int):
        super().__init__()
        self.net = net
        shapes = [(image_size // s, image_size // s) for s in STRIDES]
        points, strides = make_anchors(shapes, STRIDES)
        self.num_anchors = int(points.shape[0])
        self.register_buffer("anchor_points", points.t().unsqueeze(0).contiguous(), persistent=False)  # [1, 2, A]
        self.register_buffer("strides", strides.t().unsqueeze(0).contiguous(), persistent=False)  # [1, 1, A]

    def forward(self, images: Tensor) -> Tensor:
        feats = self.net(images)
        net = self.net
        x = torch.cat([f.flatten(2) for f in feats], 2)
        box, cls = x.split((4 * net.cfg.reg_max, net.cfg.num_classes), 1)
        r = net.cfg.reg_max
        # sizes as Python constants (not traced from shapes): ONNX then knows [batch, 4 + C, A]
        prob = box.reshape(-1, 4, r, self.num_anchors).softmax(2)
        proj = torch.arange(r, dtype=prob.dtype, device=prob.device).view(1, 1, r, 1)
        dist = (prob * proj).sum(2)  # [B, 4, A]
        lt, rb = dist[:, :2], dist[:, 2:]
        x1y1 = self.anchor_points - lt
        x2y2 = self.anchor_points + rb
        xywh = torch.cat(((x1y1 + x2y2) * 0.5, x2y2 - x1y1), 1) * self.strides
        scores = cls.reshape(-1, net.cfg.num_classes, self.num_anchors).sigmoid()
        return torch.cat((xywh, scores), 1)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
