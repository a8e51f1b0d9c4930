import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rng } from '../util/random.js';
import { VectorFile } from './vector-file.js';

describe('VectorFile', () => {
  for (const storage of ['f32', 'f16'] as const) {
    // 27 dimensions: three past the last full group of eight partial sums (see laneDot).
    it(`rescores a pool of slots in one pass as slot-by-slot reads do (${storage}, repeats and adjacent runs included)`, () => {
      const file = new VectorFile(join(mkdtempSync(join(tmpdir(), 'vectors-')), `v.${storage}`), 27, storage);
      const random = rng(3);
      for (let slot = 0; slot < 40; slot++) file.write(slot, Float32Array.from({ length: 27 }, () => random() - 0.5));
      const query = Float32Array.from({ length: 27 }, () => random() - 0.5);
      const slots = [39, 5, 6, 7, 0, 6, 21, 22];
      const out = new Float64Array(slots.length);
      file.dotMany(slots, query, out);
      slots.forEach((slot, i) => {
        expect(out[i]).toBeCloseTo(file.dot(slot, query), 9);
        expect(out[i]).toBeCloseTo(file.read(slot).reduce((sum, x, j) => sum + x * query[j]!, 0), 9);
      });
      expect(() => file.dotMany([40], query, new Float64Array(1))).toThrow(/slot 40 is missing/);
      file.close();
    });
  }
});
