import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { createSession, type SessionOptions } from './onnx-tower.js';

const manifestSchema = z.object({
  format: z.literal('lookbook.compatibility'),
  formatVersion: z.literal(1),
  id: z.string(),
  version: z.string(),
  encoder: z.object({ id: z.string(), version: z.string(), dimension: z.number().int() }),
  query: z.string(),
  local: z.string(),
  dimension: z.number().int(),
  evaluation: z.record(z.string(), z.unknown()).optional(),
});

export interface CompatibilityInfo {
  readonly id: string;
  readonly version: string;
  /** The base model whose embeddings it scores (it applies to indexes built from that model alone). */
  readonly encoder: { readonly id: string; readonly version: string; readonly dimension: number };
  readonly provider: string;
}

/**
 * A Complete the Look compatibility model (`ctl.json` + two ONNX graphs, see
 * training/lookbook_training/ctl/train.py): `query` maps a scene's embedding to a vector whose dot
 * product with a product's embedding is the global compatibility (so candidates come from an index
 * search), `local` scores candidate products by attending over the scene's region embeddings.
 */
export class CompatibilityModel {
  private constructor(
    readonly info: CompatibilityInfo,
    private readonly querySession: ort.InferenceSession,
    private readonly localSession: ort.InferenceSession,
  ) {}

  static async load(manifestPath: string, options: SessionOptions): Promise<CompatibilityModel> {
    const manifest = manifestSchema.parse(JSON.parse(readFileSync(manifestPath, 'utf8')));
    const dir = dirname(manifestPath);
    const query = await createSession(join(dir, manifest.query), options);
    const local = await createSession(join(dir, manifest.local), options);
    return new CompatibilityModel({ id: manifest.id, version: manifest.version, encoder: manifest.encoder, provider: query.provider }, query.session, local.session);
  }

  /** Whether this model scores embeddings of `model@version`. */
  fits(model: { id: string; version: string }): boolean {
    return model.id === this.info.encoder.id && model.version === this.info.encoder.version;
  }

  /** The query vector of a scene embedding: global(s, p) = query · p. */
  async query(scene: Float32Array): Promise<Float32Array> {
    const d = this.info.encoder.dimension;
    const out = await this.querySession.run({ scene: new ort.Tensor('float32', scene, [1, d]) });
    return Float32Array.from(out.query!.data as Float32Array);
  }

  /** The local term of each product (n × d) for a scene's regions (m × d, m ≥ 1). */
  async local(products: readonly Float32Array[], regions: readonly Float32Array[]): Promise<Float32Array> {
    const d = this.info.encoder.dimension;
    const flat = (rows: readonly Float32Array[]) => {
      const out = new Float32Array(rows.length * d);
      rows.forEach((row, i) => out.set(row, i * d));
      return out;
    };
    const out = await this.localSession.run({
      products: new ort.Tensor('float32', flat(products), [products.length, d]),
      regions: new ort.Tensor('float32', flat(regions), [regions.length, d]),
    });
    return Float32Array.from(out.local!.data as Float32Array);
  }

  async close(): Promise<void> {
    await Promise.all([this.querySession.release(), this.localSession.release()]);
  }
}
