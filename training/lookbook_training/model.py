"""A PinCLIP-style dual encoder: a hybrid-ViT image tower and a transformer text tower.

Both towers project to a shared ``dim`` and, by default, L2-normalize. Attention is
written out by hand (no ``nn.MultiheadAttention`` / ``nn.TransformerEncoderLayer``) so
that ONNX export never takes PyTorch's fused fast paths.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Added to attention scores of masked keys; large enough that exp() underflows to 0 in
# float32, small enough that adding it never produces -inf (a fully masked row stays finite).
MASKED_SCORE = -1e9
# The same in float16 (whose -1e9 is -inf, and 0 × -inf = NaN for the keys that are kept):
# exp(-3e4) is 0 there too, and a padding plus a causal bias (-6e4) stays finite.
MASKED_SCORE_FP16 = -3.0e4


@dataclass(frozen=True)
class ImageTowerConfig:
    """Hybrid ViT: a stride-2 convolutional stem feeding a pre-norm transformer."""

    image_size: int = 64
    # Output channels of every stem stage but the last; the last stage outputs ``width``.
    stem_channels: tuple[int, ...] = (16, 32)
    width: int = 64
    layers: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    stem_norm: str = "batch"  # batch | group
    activation: str = "gelu"  # gelu | quick_gelu
    # 0: the convolutional stem above. > 0: ViT's patch embedding instead, one convolution with
    # kernel = stride = patch_size and no bias (CLIP's conv1); stem_channels and stem_norm unused.
    patch_size: int = 0

    @property
    def grid_size(self) -> int:
        if self.patch_size > 0:
            return self.image_size // self.patch_size
        size = self.image_size
        for _ in range(len(self.stem_channels) + 1):
            size = (size + 1) // 2  # 3x3 conv, stride 2, padding 1
        return size


@dataclass(frozen=True)
class TextTowerConfig:
    """Token + position embeddings feeding a pre-norm transformer, then pooling."""

    vocab_size: int = 1000
    context_length: int = 16
    width: int = 64
    layers: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    pad_id: int = 0
    # mean: masked mean over non-pad tokens. eos_argmax: CLIP's convention, the hidden state
    # at input_ids.argmax(-1), i.e. the first end-of-text token when it has the largest id.
    pooling: str = "mean"
    causal: bool = False
    activation: str = "gelu"


@dataclass(frozen=True)
class DualEncoderConfig:
    dim: int = 512
    image: ImageTowerConfig = field(default_factory=ImageTowerConfig)
    text: TextTowerConfig = field(default_factory=TextTowerConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "DualEncoderConfig":
        image = dict(data.get("image", {}))
        if "stem_channels" in image:
            image["stem_channels"] = tuple(image["stem_channels"])
        return DualEncoderConfig(
            dim=data.get("dim", 512),
            image=ImageTowerConfig(**image),
            text=TextTowerConfig(**data.get("text", {})),
        )


def l2_normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||, eps)`` along the last axis. Unlike ``F.normalize`` this exports
    without an Expand, so the ONNX output keeps a static ``[batch, dim]`` shape."""
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp(min=eps)


class QuickGELU(nn.Module):
    """CLIP's sigmoid approximation of GELU."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


def make_activation(name: str) -> nn.Module:
    if name == "gelu":
        return nn.GELU()
    if name == "quick_gelu":
        return QuickGELU()
    raise ValueError(f"unknown activation {name!r}")


class Attention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads != 0:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.head_dim = width // heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor, score_bias: Optional[Tensor] = None) -> Tensor:
        # -1 for the token axis and constants elsewhere keep the exported shapes static
        # except for batch (and sequence, where that axis is dynamic).
        batch = x.shape[0]
        qkv = self.qkv(x).reshape(batch, -1, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, H, T, Dh]
        scores = torch.matmul(q * self.scale, k.transpose(-2, -1))
        if score_bias is not None:
            scores = scores + score_bias
        weights = scores.softmax(dim=-1)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(batch, -1, self.heads * self.head_dim)
        return self.proj(out)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, activation: str) -> None:
        super().__init__()
        hidden = int(round(width * mlp_ratio))
        self.norm1 = nn.LayerNorm(width)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden), make_activation(activation), nn.Linear(hidden, width)
        )

    def forward(self, x: Tensor, score_bias: Optional[Tensor] = None) -> Tensor:
        x = x + self.attn(self.norm1(x), score_bias)
        return x + self.mlp(self.norm2(x))


def _stem_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(8, channels), channels)
    raise ValueError(f"unknown stem_norm {kind!r}")


def _init_weights(module: nn.Module) -> None:
    # ViT/CLIP-style for Linear and Embedding. He for the conv stem: PyTorch's default conv
    # init shrinks the signal at each stage, and three stages left the image tower's output
    # almost independent of the image.
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)


def _contiguous_grad(grad: Tensor) -> Tensor:
    # PyTorch 1.13's CPU GELU backward returns garbage (values up to 1e34, different on every
    # run) for a non-contiguous incoming gradient, which is what flatten(2).transpose(1, 2)
    # hands the stem's last GELU. Only training sees this hook (it needs requires_grad), so
    # inference, ONNX export and the fixtures are unchanged.
    return grad.contiguous()


class ImageTower(nn.Module):
    def __init__(self, cfg: ImageTowerConfig, dim: int, normalize: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.normalize = normalize
        stages: list[nn.Module] = []
        if cfg.patch_size > 0:
            stages.append(nn.Conv2d(3, cfg.width, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False))
        else:
            channels = [3, *cfg.stem_channels, cfg.width]
            for c_in, c_out in zip(channels[:-1], channels[1:]):
                stages += [
                    nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=False),
                    _stem_norm(cfg.stem_norm, c_out),
                    make_activation(cfg.activation),
                ]
        self.stem = nn.Sequential(*stages)
        tokens = cfg.grid_size**2 + 1
        self.cls_token = nn.Parameter(torch.randn(cfg.width) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(tokens, cfg.width) * 0.02)
        self.blocks = nn.ModuleList(
            Block(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.activation) for _ in range(cfg.layers)
        )
        self.norm = nn.LayerNorm(cfg.width)
        self.proj = nn.Linear(cfg.width, dim, bias=False)
        _init_weights(self)

    def forward_features(self, pixel_values: Tensor) -> tuple[Tensor, Tensor]:
        """Returns (hidden states [B, 1 + grid², width] before the final norm, pooled CLS)."""
        x = self.stem(pixel_values)
        if x.requires_grad:
            x.register_hook(_contiguous_grad)
        x = x.flatten(2).transpose(1, 2)  # [B, grid², width]
        cls = self.cls_token.expand(x.shape[0], 1, self.cfg.width)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return x, self.norm(x[:, 0])

    def embed(self, pixel_values: Tensor) -> tuple[Tensor, Tensor]:
        hidden, pooled = self.forward_features(pixel_values)
        out = self.proj(pooled)
        if self.normalize:
            out = l2_normalize(out)
        return out, hidden

    def forward(self, pixel_values: Tensor) -> Tensor:
        return self.embed(pixel_values)[0]


class TextTower(nn.Module):
    def __init__(self, cfg: TextTowerConfig, dim: int, normalize: bool = True) -> None:
        super().__init__()
        if cfg.pooling not in ("mean", "eos_argmax"):
            raise ValueError(f"unknown pooling {cfg.pooling!r}")
        self.cfg = cfg
        self.normalize = normalize
        self.token_embed = nn.Embedding(cfg.vocab_size, cfg.width)
        self.pos_embed = nn.Parameter(torch.randn(cfg.context_length, cfg.width) * 0.01)
        self.blocks = nn.ModuleList(
            Block(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.activation) for _ in range(cfg.layers)
        )
        self.norm = nn.LayerNorm(cfg.width)
        self.proj = nn.Linear(cfg.width, dim, bias=False)
        _init_weights(self)

    def embed(
        self, input_ids: Tensor, attention_mask: Optional[Tensor] = None
    ) -> tuple[Tensor, Tensor]:
        """Returns (embedding [B, dim], hidden states [B, T, width] before the final norm).

        Without ``attention_mask`` the mask is computed in the graph as
        ``input_ids != pad_id``, so ``input_ids`` is the only graph input.
        """
        keep = input_ids != self.cfg.pad_id if attention_mask is None else attention_mask != 0
        # Positions as a gather rather than a slice of pos_embed: with a dynamic sequence
        # axis, ONNX shape inference keeps static widths through a Gather, not a Slice.
        positions = torch.ones_like(input_ids).cumsum(dim=1) - 1
        x = self.token_embed(input_ids) + F.embedding(positions, self.pos_embed)
        masked = MASKED_SCORE_FP16 if x.dtype == torch.float16 else MASKED_SCORE
        score_bias = (1.0 - keep.to(x.dtype))[:, None, None, :] * masked
        if self.cfg.causal:
            future = (positions[:, None, :] > positions[:, :, None]).to(x.dtype)
            score_bias = score_bias + future[:, None] * masked
        for block in self.blocks:
            x = block(x, score_bias)
        if self.cfg.pooling == "mean":
            weights = keep.to(x.dtype).unsqueeze(-1)
            pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        else:
            eos = input_ids.argmax(dim=-1)  # first occurrence of the largest id
            index = eos[:, None, None].expand(-1, 1, x.shape[-1])
            pooled = x.gather(1, index).squeeze(1)
        out = self.proj(self.norm(pooled))
        if self.normalize:
            out = l2_normalize(out)
        return out, x

    def forward(self, input_ids: Tensor, attention_mask: Optional[Tensor] = None) -> Tensor:
        return self.embed(input_ids, attention_mask)[0]


class DualEncoder(nn.Module):
    def __init__(self, cfg: DualEncoderConfig, normalize: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.image = ImageTower(cfg.image, cfg.dim, normalize)
        self.text = TextTower(cfg.text, cfg.dim, normalize)
        # CLIP's learnable temperature, initialised to 1/0.07; unused by the exported towers.
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, pixel_values: Tensor) -> Tensor:
        return self.image(pixel_values)

    def encode_text(self, input_ids: Tensor) -> Tensor:
        return self.text(input_ids)

    def forward(self, pixel_values: Tensor, input_ids: Tensor) -> tuple[Tensor, Tensor]:
        return self.encode_image(pixel_values), self.encode_text(input_ids)


def randomize_for_fixture(module: nn.Module, generator: torch.Generator, scale: float = 0.1) -> None:
    """Makes a random-init model a stronger test fixture.

    - Linear weights are redrawn with variance 1/fan_in (not ViT's std 0.02), so embeddings
      depend strongly on the input: a preprocessing or tokenization bug then moves them.
    - Norm layers and biases move away from their initial values: a fresh LayerNorm or
      BatchNorm is (nearly) an identity and fresh biases are zero, so an exporter or
      runtime that dropped affine parameters, running statistics or biases would still
      match PyTorch. (Zero biases also get deduplicated into one shared ONNX initializer.)
    """
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):
                m.weight.normal_(0.0, m.weight.shape[1] ** -0.5, generator=generator)
                if m.bias is not None:
                    m.bias.add_(torch.randn(m.bias.shape, generator=generator) * scale * 0.2)
            if isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)) and m.weight is not None:
                m.weight.add_(torch.randn(m.weight.shape, generator=generator) * scale)
                m.bias.add_(torch.randn(m.bias.shape, generator=generator) * scale)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.add_(torch.randn(m.running_mean.shape, generator=generator) * scale)
                m.running_var.mul_(1 + torch.rand(m.running_var.shape, generator=generator))
