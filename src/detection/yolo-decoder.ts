/** A detection in some pixel space: corners, class and confidence. */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  classId: number;
  score: number;
}

/** How an image was letterboxed into the detector's square input. */
export interface Letterbox {
  /** Scale from original pixels to input pixels. */
  scale: number;
  padLeft: number;
  padTop: number;
  /** Size of the resized image inside the input. */
  width: number;
  height: number;
  inputSize: number;
}

/**
 * Ultralytics' LetterBox (ultralytics/data/augment.py): scale to fit, keep the aspect, centre,
 * pad with grey 114; the padding split rounds `d ± 0.1`, so an odd padding puts the extra pixel
 * at the bottom/right.
 */
export function letterbox(width: number, height: number, inputSize: number): Letterbox {
  const scale = Math.min(inputSize / width, inputSize / height);
  const newWidth = Math.max(1, Math.round(width * scale));
  const newHeight = Math.max(1, Math.round(height * scale));
  const dw = (inputSize - newWidth) / 2;
  const dh = (inputSize - newHeight) / 2;
  return { scale, padLeft: Math.max(0, Math.round(dw - 0.1)), padTop: Math.max(0, Math.round(dh - 0.1)), width: newWidth, height: newHeight, inputSize };
}

export function iou(a: Box, b: Box): number {
  return cornersIou(a.x1, a.y1, a.x2, a.y2, b.x1, b.y1, b.x2, b.y2);
}

/** Intersection over union of two boxes given by their corners (0 when both are empty). */
export function cornersIou(ax1: number, ay1: number, ax2: number, ay2: number, bx1: number, by1: number, bx2: number, by2: number): number {
  const iw = Math.max(0, Math.min(ax2, bx2) - Math.max(ax1, bx1));
  const ih = Math.max(0, Math.min(ay2, by2) - Math.max(ay1, by1));
  const intersection = iw * ih;
  const union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - intersection;
  return union > 0 ? intersection / union : 0;
}

/**
 * Decodes a YOLO (v8 and later) output `[4 + classes, anchors]` for one image: rows are cx, cy,
 * w, h in input pixels, then one score per class (no objectness); keeps each anchor's best class
 * when it reaches `confidence`.
 */
export function decodeYolo(output: Float32Array, classes: number, anchors: number, confidence: number): Box[] {
  const boxes: Box[] = [];
  for (let a = 0; a < anchors; a++) {
    let best = 0;
    let classId = -1;
    for (let c = 0; c < classes; c++) {
      const score = output[(4 + c) * anchors + a]!;
      if (score > best) {
        best = score;
        classId = c;
      }
    }
    if (classId < 0 || best < confidence) continue;
    const cx = output[a]!;
    const cy = output[anchors + a]!;
    const w = output[2 * anchors + a]!;
    const h = output[3 * anchors + a]!;
    boxes.push({ x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, classId, score: best });
  }
  return boxes;
}

/** Class-aware non-maximum suppression: a box is dropped only by a better box of its own class. */
export function nonMaxSuppression(boxes: readonly Box[], iouThreshold: number, maxBoxes = Infinity): Box[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: Box[] = [];
  for (const box of sorted) {
    if (kept.length >= maxBoxes) break;
    if (kept.every((other) => other.classId !== box.classId || iou(other, box) <= iouThreshold)) kept.push(box);
  }
  return kept;
}

/** Maps a box from letterboxed input pixels back to the original image, clipped to it. */
export function toOriginal(box: Box, lb: Letterbox, width: number, height: number): Box {
  const clip = (value: number, max: number) => Math.min(Math.max(value, 0), max);
  return {
    ...box,
    x1: clip((box.x1 - lb.padLeft) / lb.scale, width),
    y1: clip((box.y1 - lb.padTop) / lb.scale, height),
    x2: clip((box.x2 - lb.padLeft) / lb.scale, width),
    y2: clip((box.y2 - lb.padTop) / lb.scale, height),
  };
}
