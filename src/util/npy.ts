import { readFileSync } from 'node:fs';

/** A NumPy .npy (format 1) file of uint8, as the training dataset's style files are: its shape and bytes. */
export function readNpy(path: string): { shape: number[]; data: Buffer } {
  const file = readFileSync(path);
  const headerLength = file.readUInt16LE(8);
  const header = file.subarray(10, 10 + headerLength).toString('latin1');
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').filter((part) => part.trim()).map(Number);
  return { shape, data: file.subarray(10 + headerLength) };
}
