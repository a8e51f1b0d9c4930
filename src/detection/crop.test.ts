import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cropImage } from './detector.js';
import type { RawImage } from '../encoders/image-preprocessor.js';

/** 100×60 grey image with a red 40×20 box at (10, 20)-(50, 40) and a blue 40×20 box at (60, 0)-(100, 20). */
async function scene(): Promise<RawImage> {
  const red = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#ff0000' } }).png().toBuffer();
  const blue = await sharp({ create: { width: 40, height: 20, channels: 3, background: '#0000ff' } }).png().toBuffer();
  const { data, info } = await sharp({ create: { width: 100, height: 60, channels: 3, background: '#808080' } })
    .composite([
      { input: red, left: 10, top: 20 },
      { input: blue, left: 60, top: 0 },
    ])
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

const pixel = (image: RawImage, x: number, y: number) => Array.from(image.data.subarray((y * image.width + x) * image.channels, (y * image.width + x) * image.channels + 3));

describe('cropImage', () => {
  it('cuts the box with its margin, clipped to the image', async () => {
    const crop = await cropImage(await scene(), [10, 20, 50, 40], 0.25);
    expect([crop.width, crop.height]).toEqual([60, 30]);
    expect(pixel(crop, 30, 15)).toEqual([255, 0, 0]);
    expect(pixel(crop, 2, 2)).toEqual([128, 128, 128]);
  });

  it('grows a wide box to a square of scene pixels around its centre', async () => {
    const crop = await cropImage(await scene(), [10, 20, 50, 40], 0, { square: true });
    expect([crop.width, crop.height]).toEqual([40, 40]);
    expect(pixel(crop, 20, 20)).toEqual([255, 0, 0]); // the box, centred
    expect(pixel(crop, 20, 5)).toEqual([128, 128, 128]); // scene above it
    expect(pixel(crop, 20, 35)).toEqual([128, 128, 128]); // and below
  });

  it('fills what falls outside the image, keeping the box centred', async () => {
    const crop = await cropImage(await scene(), [60, 0, 100, 20], 0, { square: true, fill: [255, 255, 255] });
    expect([crop.width, crop.height]).toEqual([40, 40]);
    expect(pixel(crop, 20, 5)).toEqual([255, 255, 255]); // above the image: fill
    expect(pixel(crop, 20, 20)).toEqual([0, 0, 255]); // the box, centred
    expect(pixel(crop, 20, 35)).toEqual([128, 128, 128]); // below it: scene
  });
});
