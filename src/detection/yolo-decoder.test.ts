import { describe, expect, it } from 'vitest';
import { parseModelMetadata, parseUltralyticsNames, readOnnxMetadata } from './onnx-metadata.js';
import { decodeYolo, iou, letterbox, nonMaxSuppression, toOriginal } from './yolo-decoder.js';

describe('letterbox', () => {
  it('fits, keeps the aspect and centres with the odd pixel at the bottom/right, as Ultralytics does', () => {
    expect(letterbox(200, 100, 64)).toEqual({ scale: 0.32, padLeft: 0, padTop: 16, width: 64, height: 32, inputSize: 64 });
    // 640×427 into 640: new height 427, padding 213 → 106 top, 107 bottom.
    expect(letterbox(640, 427, 640)).toMatchObject({ scale: 1, padTop: 106, height: 427 });
    expect(letterbox(64, 64, 64)).toMatchObject({ scale: 1, padLeft: 0, padTop: 0 });
  });
});

describe('YOLO decoding', () => {
  // [4 + 2 classes, 3 anchors], row-major: cx row, cy row, w row, h row, class 0 row, class 1 row.
  const output = Float32Array.from([
    10, 11, 40, // cx
    10, 11, 40, // cy
    8, 8, 4, // w
    8, 8, 4, // h
    0.9, 0.8, 0.1, // class 0
    0.1, 0.05, 0.3, // class 1
  ]);

  it('keeps each anchor’s best class above the confidence, as corner boxes', () => {
    expect(decodeYolo(output, 2, 3, 0.25)).toEqual([
      { x1: 6, y1: 6, x2: 14, y2: 14, classId: 0, score: expect.closeTo(0.9, 6) },
      { x1: 7, y1: 7, x2: 15, y2: 15, classId: 0, score: expect.closeTo(0.8, 6) },
      { x1: 38, y1: 38, x2: 42, y2: 42, classId: 1, score: expect.closeTo(0.3, 6) },
    ]);
    expect(decodeYolo(output, 2, 3, 0.85)).toHaveLength(1);
  });

  it('suppresses overlapping boxes of the same class only', () => {
    const a = { x1: 0, y1: 0, x2: 10, y2: 10, classId: 0, score: 0.9 };
    const b = { x1: 1, y1: 1, x2: 11, y2: 11, classId: 0, score: 0.8 };
    const c = { x1: 1, y1: 1, x2: 11, y2: 11, classId: 1, score: 0.7 };
    expect(iou(a, b)).toBeCloseTo(81 / 119, 6);
    expect(nonMaxSuppression([b, c, a], 0.5)).toEqual([a, c]);
    expect(nonMaxSuppression([b, c, a], 0.7)).toEqual([a, b, c]);
    expect(nonMaxSuppression([b, a], 0.6)).toEqual([a]);
    expect(nonMaxSuppression([a, b, c], 0.5, 1)).toEqual([a]);
  });

  it('maps input boxes back to the original image and clips them', () => {
    const lb = letterbox(200, 100, 64);
    const box = toOriginal({ x1: 22, y1: 12, x2: 42, y2: 28, classId: 0, score: 1 }, lb, 200, 100);
    expect(box).toMatchObject({ x1: 68.75, y1: 0, x2: 131.25, y2: 37.5 });
  });
});

describe('ONNX metadata', () => {
  it('reads Ultralytics class names from the model file', () => {
    const metadata = readOnnxMetadata('test/fixtures/models/yolo-handmade/model.onnx');
    expect(metadata.task).toBe('detect');
    expect([...parseUltralyticsNames(metadata.names!)]).toEqual([
      [0, 'shirt'],
      [1, 'shoe'],
      [2, 'bag'],
    ]);
  });

  it("parses Python dict strings with either quote and escapes", () => {
    expect([...parseUltralyticsNames(`{0: 'person', 1: "driver's seat", 12: 'it\\'s'}`)]).toEqual([
      [0, 'person'],
      [1, "driver's seat"],
      [12, "it's"],
    ]);
  });

  it('refuses a truncated file', () => {
    // field 14, length 10, but only 2 bytes follow
    expect(() => parseModelMetadata(Uint8Array.from([0x72, 10, 1, 2]))).toThrow(/truncated/);
  });
});
