"""The detector's loss: a task-aligned assigner (YOLOv8's TAL, simplified) with BCE
classification, CIoU box and distribution-focal (DFL) terms.

Assignment, per image: an anchor point is a candidate for a ground-truth box when its cell
centre lies inside the box (on any level: the scale is chosen by the alignment, not by fixed
ranges). Each candidate gets the alignment ``t = s^α · IoU^β`` (``s``: its predicted score of
the box's class, ``IoU``: of its predicted box; α 0.5, β 6); the ``topk`` (10) candidates of each
box by ``t`` are its positives; an anchor claimed by several boxes keeps the one it overlaps
most. Positive targets are soft: the class target is ``t`` rescaled so that each box's best
anchor gets that anchor's IoU (normalized alignment); all other anchors have target 0.

Loss = 7.5 · CIoU + 0.5 · BCE + 1.5 · DFL (YOLOv8's gains), each summed over anchors and
divided by the sum of the class targets; box terms weighted by each positive's target.
"""

from __future__ import annotations

import math
from typing import Dict, Tuple

import torch
from torch import Tensor, nn
import torch.nn.functional as F

from .model import DetectorNet, dist2bbox


def box_iou(a: Tensor, b: Tensor, eps: float = 1e-7) -> Tensor:
    """Pairwise IoU of xyxy boxes [..., 4] (broadcast), elementwise."""
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter + eps)


def ciou(a: Tensor, b: Tensor, eps: float = 1e-7) -> Tensor:
    """Complete IoU of xyxy boxes [..., 4], elementwise: IoU − ρ²/c² − α·v."""
    w1, h1 = a[..., 2] - a[..., 0], (a[..., 3] - a[..., 1]).clamp(min=eps)
    w2, h2 = b[..., 2] - b[..., 0], (b[..., 3] - b[..., 1]).clamp(min=eps)
    iou = box_iou(a, b, eps)
    cw = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    ch = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    c2 = cw ** 2 + ch ** 2 + eps
    rho2 = ((b[..., 0] + b[..., 2] - a[..., 0] - a[..., 2]) ** 2 + (b[..., 1] + b[..., 3] - a[..., 1] - a[..., 3]) ** 2) / 4
    v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


class TaskAlignedAssigner(nn.Module):
    def __init__(self, topk: int = 10, alpha: float = 0.5, beta: float = 6.0, eps: float = 1e-9):
        super().__init__()
        self.topk, self.alpha, self.beta, self.eps = topk, alpha, beta, eps

    @torch.no_grad()
    def forward(self, pd_scores: Tensor, pd_bboxes: Tensor, anc_points: Tensor, gt_labels: Tensor,
                gt_bboxes: Tensor, mask_gt: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """pd_scores [B, A, C] (sigmoid), pd_bboxes [B, A, 4] xyxy pixels, anc_points [A, 2]
        pixels, gt_labels [B, M] long, gt_bboxes [B, M, 4], mask_gt [B, M] bool.

        Returns target_labels [B, A], target_bboxes [B, A, 4], target_scores [B, A, C],
        fg_mask [B, A] bool."""
        b, a, c = pd_scores.shape
        m = gt_bboxes.shape[1]
        device = pd_scores.device
        if m == 0:
            return (torch.zeros(b, a, dtype=torch.long, device=device), torch.zeros(b, a, 4, device=device),
                    torch.zeros(b, a, c, device=device), torch.zeros(b, a, dtype=torch.bool, device=device))
        # candidates: anchor centre strictly inside the gt box → [B, M, A]
        lt = anc_points.view(1, 1, a, 2) - gt_bboxes[:, :, None, :2]
        rb = gt_bboxes[:, :, None, 2:] - anc_points.view(1, 1, a, 2)
        in_gts = torch.cat((lt, rb), -1).amin(-1) > self.eps
        in_gts = in_gts & mask_gt[:, :, None]
        # alignment
        overlaps = box_iou(gt_bboxes[:, :, None, :], pd_bboxes[:, None, :, :]).clamp(min=0)  # [B, M, A]
        labels = gt_labels.clamp(min=0, max=c - 1)
        scores = torch.gather(pd_scores.transpose(1, 2), 1, labels[:, :, None].expand(b, m, a))  # [B, M, A]
        overlaps = overlaps * in_gts
        align = scores.pow(self.alpha) * overlaps.pow(self.beta) * in_gts
        # top-k candidates per gt
        k = min(self.topk, a)
        topk_idx = align.topk(k, dim=-1).indices  # [B, M, k]
        is_topk = torch.zeros_like(align, dtype=torch.bool).scatter_(-1, topk_idx, True)
        mask_pos = is_topk & in_gts  # [B, M, A]
        # an anchor claimed by several gts keeps the one with the highest IoU
        fg_count = mask_pos.sum(1)  # [B, A]
        if int(fg_count.max()) > 1:
            multi = (fg_count > 1)[:, None, :].expand(b, m, a)
            best = overlaps.argmax(1)  # [B, A]
            best_onehot = F.one_hot(best, m).permute(0, 2, 1).bool()
            mask_pos = torch.where(multi, best_onehot, mask_pos)
        fg_mask = mask_pos.any(1)  # [B, A]
        target_gt = mask_pos.float().argmax(1)  # [B, A]
        batch_idx = torch.arange(b, device=device)[:, None]
        target_labels = labels[batch_idx, target_gt]  # [B, A]
        target_bboxes = gt_bboxes[batch_idx, target_gt]  # [B, A, 4]
        target_scores = F.one_hot(target_labels, c).float() * fg_mask[:, :, None]
        # normalized alignment: each gt's best positive gets that positive's IoU
        align = align * mask_pos
        pos_align = align.amax(-1, keepdim=True)  # [B, M, 1]
        pos_overlap = (overlaps * mask_pos).amax(-1, keepdim=True)
        norm = (align * pos_overlap / (pos_align + self.eps)).amax(1)  # [B, A]
        target_scores = target_scores * norm[:, :, None]
        return target_labels, target_bboxes, target_scores, fg_mask


def bbox2dist(anchor_points: Tensor, bbox: Tensor, reg_max: int) -> Tensor:
    """xyxy (grid units) → l, t, r, b distances from the anchor, clamped to [0, reg_max − 1.01]."""
    x1y1, x2y2 = bbox.chunk(2, -1)
    return torch.cat((anchor_points - x1y1, x2y2 - anchor_points), -1).clamp(0, reg_max - 1.01)


def dfl_loss(pred_dist: Tensor, target: Tensor) -> Tensor:
    """Distribution focal loss: cross-entropy to the two bins around each target distance,
    weighted by proximity. pred_dist [n, 4, reg_max] logits, target [n, 4] → [n, 1]."""
    tl = target.long()
    tr = tl + 1
    wl = tr.float() - target
    wr = 1 - wl
    r = pred_dist.shape[-1]
    logp = F.log_softmax(pred_dist.reshape(-1, r), -1)
    loss = -(logp.gather(1, tl.view(-1, 1)).view(tl.shape) * wl + logp.gather(1, tr.view(-1, 1)).view(tl.shape) * wr)
    return loss.mean(-1, keepdim=True)


class DetectionLoss(nn.Module):
    def __init__(self, num_classes: int, reg_max: int = 16, box_gain: float = 7.5, cls_gain: float = 0.5,
                 dfl_gain: float = 1.5, topk: int = 10):
        super().__init__()
        self.nc, self.reg_max = num_classes, reg_max
        self.gains = (box_gain, cls_gain, dfl_gain)
        self.assigner = TaskAlignedAssigner(topk=topk)

    def forward(self, net: DetectorNet, feats, gt_labels: Tensor, gt_bboxes: Tensor,
                mask_gt: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
        """feats: the net's per-level maps; gt_* padded per image (``mask_gt`` marks real boxes),
        boxes xyxy in input pixels."""
        box_logits, cls_logits = net.flatten(feats)
        box_logits = box_logits.float().permute(0, 2, 1).contiguous()  # [B, A, 4·r]
        cls_logits = cls_logits.float().permute(0, 2, 1).contiguous()  # [B, A, C]
        anchor_points, stride_t = net.anchors(feats)
        b, a, _ = box_logits.shape
        r = self.reg_max
        pred_dist = box_logits.view(b, a, 4, r)
        proj = torch.arange(r, dtype=torch.float32, device=box_logits.device)
        dist = pred_dist.softmax(-1) @ proj  # [B, A, 4] grid units
        pred_bboxes = dist2bbox(dist, anchor_points, xywh=False)  # grid units
        _, target_bboxes, target_scores, fg = self.assigner(
            cls_logits.detach().sigmoid(), (pred_bboxes.detach() * stride_t).type(gt_bboxes.dtype),
            anchor_points * stride_t, gt_labels, gt_bboxes, mask_gt)
        tss = target_scores.sum().clamp(min=1.0)
        loss_cls = F.binary_cross_entropy_with_logits(cls_logits, target_scores, reduction="sum") / tss
        if fg.any():
            weight = target_scores.sum(-1)[fg].unsqueeze(-1)  # [n, 1]
            tb = target_bboxes / stride_t  # grid units
            iou = ciou(pred_bboxes[fg], tb[fg]).unsqueeze(-1)
            loss_box = ((1.0 - iou) * weight).sum() / tss
            target_ltrb = bbox2dist(anchor_points.expand(b, a, 2)[fg], tb[fg], r)
            loss_dfl = (dfl_loss(pred_dist[fg], target_ltrb) * weight).sum() / tss
        else:
            loss_box = loss_dfl = box_logits.sum() * 0.0
        gb, gc, gd = self.gains
        total = gb * loss_box + gc * loss_cls + gd * loss_dfl
        # detached tensors (no device sync here): the trainer reads them when it logs
        parts = {"loss": total.detach(), "box": loss_box.detach(), "cls": loss_cls.detach(),
                 "dfl": loss_dfl.detach(), "positives": fg.sum()}
        return total, parts
