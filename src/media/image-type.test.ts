import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sniffImageType } from './image-type.js';

describe('sniffImageType', () => {
  it('names the formats sharp writes from their signatures', async () => {
    const pixels = sharp({ create: { width: 4, height: 4, channels: 3, background: '#c0ffee' } });
    expect(sniffImageType(await pixels.clone().jpeg().toBuffer())).toBe('image/jpeg');
    expect(sniffImageType(await pixels.clone().png().toBuffer())).toBe('image/png');
    expect(sniffImageType(await pixels.clone().webp().toBuffer())).toBe('image/webp');
    expect(sniffImageType(await pixels.clone().gif().toBuffer())).toBe('image/gif');
    expect(sniffImageType(await pixels.clone().tiff().toBuffer())).toBe('image/tiff');
    expect(sniffImageType(await pixels.clone().avif().toBuffer())).toBe('image/avif');
    expect(sniffImageType(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe('image/svg+xml');
    expect(sniffImageType(Buffer.from('plain words'))).toBe('application/octet-stream');
  });
});
