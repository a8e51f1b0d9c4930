/** Scales a vector to unit L2 norm in place; a zero vector stays zero. Returns the same array. */
export function l2NormalizeInPlace(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! / norm;
  return vector;
}

/** Splits a row-major `[rows, dimension]` matrix into normalized row vectors (copies). */
export function splitRowsNormalized(data: Float32Array, rows: number, dimension: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r++) out.push(l2NormalizeInPlace(data.slice(r * dimension, (r + 1) * dimension)));
  return out;
}
