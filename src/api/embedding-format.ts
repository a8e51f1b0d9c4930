import { packSignBits } from '../index/binary-codes.js';

export const ENCODING_FORMATS = ['float', 'base64', 'ubinary'] as const;
export type EncodingFormat = (typeof ENCODING_FORMATS)[number];

/**
 * One embedding as the client asked for it: a float array; base64 of little-endian float32 (what
 * the official OpenAI SDK requests by default); or `ubinary`, the packed sign bits as unsigned
 * bytes (bit i set when x_i > 0, most significant bit first, as numpy's packbits).
 */
export function formatEmbedding(vector: Float32Array, format: EncodingFormat): number[] | string {
  switch (format) {
    case 'float':
      return Array.from(vector);
    case 'base64': {
      const bytes = Buffer.alloc(vector.length * 4);
      for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i]!, i * 4);
      return bytes.toString('base64');
    }
    case 'ubinary':
      return Array.from(packSignBits(vector));
  }
}
