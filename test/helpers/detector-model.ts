import { readFileSync, writeFileSync } from 'node:fs';
import { parseModelMetadata } from '../../src/detection/onnx-metadata.js';

const varint = (value: number): number[] => {
  const bytes: number[] = [];
  for (; value > 0x7f; value = Math.floor(value / 128)) bytes.push((value % 128) | 0x80);
  bytes.push(value);
  return bytes;
};

function readVarint(bytes: Uint8Array, offset: number): [value: number, next: number] {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = bytes[offset++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, offset];
  }
}

/** A length-delimited protobuf field. */
const field = (number: number, payload: Uint8Array): Buffer => Buffer.concat([Buffer.from([...varint((number << 3) | 2), ...varint(payload.length)]), payload]);

/**
 * Writes a copy of an ONNX detector whose class names are `labels`: its ModelProto's
 * `metadata_props` entry "names" (field 14) is replaced by one written as Ultralytics writes it,
 * `{0: 'shirt', 1: 'shoe'}`; every other field is copied byte for byte.
 */
export function relabelDetector(source: string, target: string, labels: readonly string[]): void {
  const bytes = readFileSync(source);
  const kept: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const start = offset;
    const [tag, afterTag] = readVarint(bytes, offset);
    const wireType = tag & 7;
    if (wireType === 0) offset = readVarint(bytes, afterTag)[1];
    else if (wireType === 1) offset = afterTag + 8;
    else if (wireType === 5) offset = afterTag + 4;
    else if (wireType === 2) {
      const [length, at] = readVarint(bytes, afterTag);
      offset = at + length;
    } else throw new Error(`${source}: wire type ${wireType} at ${start}`);
    const entry = bytes.subarray(start, offset);
    if (tag >> 3 === 14 && 'names' in parseModelMetadata(entry)) continue;
    kept.push(entry);
  }
  const names = `{${labels.map((label, i) => `${i}: ${JSON.stringify(label)}`).join(', ')}}`;
  kept.push(field(14, Buffer.concat([field(1, Buffer.from('names')), field(2, Buffer.from(names))])));
  writeFileSync(target, Buffer.concat(kept));
}
