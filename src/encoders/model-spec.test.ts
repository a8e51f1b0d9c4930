import { describe, expect, it } from 'vitest';
import { rgbToNormalizedChw } from './image-preprocessor.js';
import { plannedSize, roundHalfEven, type PreprocessSpec } from './model-spec.js';

const clip: PreprocessSpec = {
  resize: { mode: 'shortest_edge', shortestEdge: 224 },
  crop: { height: 224, width: 224 },
  cropRounding: 'floor',
  resample: 'bicubic',
  rescale: 1 / 255,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
  background: [255, 255, 255],
};

describe('plannedSize', () => {
  it('scales the short side to the target and truncates the long side, as Hugging Face does', () => {
    // 640×427: long = floor(224 × 640 / 427) = floor(335.74) = 335
    expect(plannedSize(clip, 640, 427)).toEqual({ resized: { width: 335, height: 224 }, crop: { width: 224, height: 224, left: 55, top: 0 } });
    expect(plannedSize(clip, 100, 300).resized).toEqual({ width: 224, height: 672 });
  });

  it('rounds an odd crop margin down for Hugging Face and half-to-even for torchvision', () => {
    const spec = { ...clip, resize: { mode: 'squash' as const, width: 9, height: 8 }, crop: { width: 4, height: 5 } };
    expect(plannedSize(spec, 1, 1).crop).toMatchObject({ left: 2, top: 1 });
    expect(plannedSize({ ...spec, cropRounding: 'round' }, 1, 1).crop).toMatchObject({ left: 2, top: 2 });
    expect([0.5, 1.5, 2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 2, 3]);
  });

  it('squashes to the exact size ignoring aspect', () => {
    const siglip = { ...clip, resize: { mode: 'squash' as const, height: 256, width: 256 }, crop: null };
    expect(plannedSize(siglip, 640, 100)).toEqual({ resized: { width: 256, height: 256 }, crop: { width: 256, height: 256, left: 0, top: 0 } });
  });
});

describe('rgbToNormalizedChw', () => {
  it('moves interleaved RGB(A) to planes and normalizes each channel', () => {
    const pixels = Uint8Array.from([255, 0, 128, 9, 0, 255, 64, 9]); // two RGBA pixels
    const out = rgbToNormalizedChw(pixels, 2, 1, 4, { rescale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.5] });
    const expected = [1, -1, -2, 2, (128 / 255 - 0.5) / 0.5, (64 / 255 - 0.5) / 0.5];
    expect(Array.from(out).map((x) => Number(x.toFixed(6)))).toEqual(expected.map((x) => Number(x.toFixed(6))));
  });
});
