"""The training objective: CLIP image–text loss, PinCLIP-style neighbor alignment, and a
binarization term that keeps the embeddings' sign bits informative.

For a batch of B concepts with two images each (A, B: two styles) and one caption T:

- ``it``   = ½ [CLIP(A, T) + CLIP(B, T)]: the symmetric InfoNCE of CLIP, for both images.
- ``ii``   = CLIP(A, B): neighbor alignment (PinCLIP): images that belong together (same
  concept, different style) attract, other concepts in the batch repel.
- ``code`` = ½ [CLIP(c(A), c(T)) + CLIP(c(B), c(T))] + w_ii · CLIP(c(A), c(B)) on soft
  codes c(z) = tanh(β · √d · z), L2-normalized, with its own learnable temperature. The
  cosine of two sign vectors is 1 − 2·Hamming/d, so as β grows (annealed, e.g. 1 → 10)
  this is the contrastive loss of the Hamming ranking the index uses.
- ``bal``  = mean over bits of (batch mean of c)²: each bit should split the batch evenly
  (a constant bit carries no information) — the bit-balance term of learning-to-hash.

total = it + w_ii · ii + w_code · code + w_bal · bal.

Off-diagonal pairs of the same concept (rare: an epoch's last batch) are masked out of the
softmax rather than counted as negatives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MAX_LOGIT_SCALE = math.log(100.0)
MASKED_LOGIT = -1e4


def clip_loss(a: Tensor, b: Tensor, scale: Tensor, same: Optional[Tensor] = None) -> Tensor:
    """Symmetric InfoNCE between rows of ``a`` and ``b`` (L2-normalized, [N, d]); row i of
    ``a`` matches row i of ``b``. ``same`` [N, N] bool marks off-diagonal pairs to ignore."""
    logits = scale * (a.float() @ b.float().t())
    if same is not None:
        logits = logits.masked_fill(same, MASKED_LOGIT)
    labels = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def soft_codes(z: Tensor, beta: float) -> Tensor:
    """tanh(β · √d · z) for L2-normalized z [N, d]: ±1 as β → ∞ (the sign bits)."""
    return torch.tanh(z.float() * (beta * math.sqrt(z.shape[-1])))


def bit_balance(codes: Tensor) -> Tensor:
    return codes.mean(dim=0).pow(2).mean()


def same_concept_mask(concepts: Tensor) -> Tensor:
    same = concepts[:, None] == concepts[None, :]
    return same & ~torch.eye(len(concepts), dtype=torch.bool, device=concepts.device)


@dataclass(frozen=True)
class LossConfig:
    w_ii: float = 0.5
    w_code: float = 0.5
    w_bal: float = 1.0
    beta_start: float = 1.0
    beta_end: float = 10.0


def beta_at(cfg: LossConfig, progress: float) -> float:
    """Geometric anneal from beta_start to beta_end over training (progress 0 → 1)."""
    p = min(max(progress, 0.0), 1.0)
    return cfg.beta_start * (cfg.beta_end / cfg.beta_start) ** p


class PinClipLoss(nn.Module):
    """Holds the soft codes' learnable temperature (the model holds CLIP's)."""

    def __init__(self, cfg: LossConfig = LossConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.code_logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(
        self,
        image_a: Tensor,
        image_b: Tensor,
        text: Tensor,
        logit_scale: Tensor,
        beta: float,
        concepts: Optional[Tensor] = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        same = same_concept_mask(concepts) if concepts is not None else None
        if same is not None and not bool(same.any()):
            same = None
        scale = logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
        it = 0.5 * (clip_loss(image_a, text, scale, same) + clip_loss(image_b, text, scale, same))
        ii = clip_loss(image_a, image_b, scale, same)
        total = it + cfg.w_ii * ii
        parts = {"it": it.detach(), "ii": ii.detach()}
        if cfg.w_code > 0 or cfg.w_bal > 0:
            ca, cb, ct = (soft_codes(z, beta) for z in (image_a, image_b, text))
            code_scale = self.code_logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
            na, nb, nt = (F.normalize(c, dim=-1) for c in (ca, cb, ct))
            code = 0.5 * (clip_loss(na, nt, code_scale, same) + clip_loss(nb, nt, code_scale, same))
            code = code + cfg.w_ii * clip_loss(na, nb, code_scale, same)
            bal = bit_balance(torch.cat([ca, cb, ct]))
            total = total + cfg.w_code * code + cfg.w_bal * bal
            parts.update(code=code.detach(), bal=bal.detach())
        parts["total"] = total.detach()
        return total, parts
