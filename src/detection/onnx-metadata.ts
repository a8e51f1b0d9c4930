import { readFileSync } from 'node:fs';

/**
 * Reads `metadata_props` from an ONNX file. onnxruntime-node does not expose model metadata, so
 * the ModelProto is walked as protobuf: field 14 holds `StringStringEntryProto {key = 1; value = 2}`;
 * every other field (the graph, with its weights) is skipped by its length.
 */
export function readOnnxMetadata(path: string): Record<string, string> {
  return parseModelMetadata(readFileSync(path));
}

export function parseModelMetadata(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const reader = new ProtoReader(bytes, 0, bytes.length);
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 14 && wireType === 2) {
      const entry = reader.message();
      let key = '';
      let value = '';
      while (!entry.done) {
        const inner = entry.tag();
        if (inner.field === 1 && inner.wireType === 2) key = entry.string();
        else if (inner.field === 2 && inner.wireType === 2) value = entry.string();
        else entry.skip(inner.wireType);
      }
      out[key] = value;
    } else {
      reader.skip(wireType);
    }
  }
  return out;
}

class ProtoReader {
  constructor(
    private readonly bytes: Uint8Array,
    private offset: number,
    private readonly end: number,
  ) {}

  get done(): boolean {
    return this.offset >= this.end;
  }

  private varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.offset >= this.end) throw new Error('truncated ONNX protobuf');
      const byte = this.bytes[this.offset++]!;
      // Lengths and tags fit in 2^53; multiply rather than shift past 31 bits.
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('bad varint in ONNX protobuf');
    }
  }

  tag(): { field: number; wireType: number } {
    const tag = this.varint();
    return { field: Math.floor(tag / 8), wireType: tag & 7 };
  }

  private length(): number {
    const length = this.varint();
    if (this.offset + length > this.end) throw new Error('truncated ONNX protobuf');
    return length;
  }

  string(): string {
    const length = this.length();
    const text = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.offset, length).toString('utf8');
    this.offset += length;
    return text;
  }

  message(): ProtoReader {
    const length = this.length();
    const inner = new ProtoReader(this.bytes, this.offset, this.offset + length);
    this.offset += length;
    return inner;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.offset += 8;
        return;
      case 2: {
        // Read the length first: `this.offset += this.length()` would add to the offset from before the length's own bytes.
        const length = this.length();
        this.offset += length;
        return;
      }
      case 5:
        this.offset += 4;
        return;
      default:
        throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }
}

/**
 * Class names as Ultralytics stores them: `str(dict)` of a Python dict, e.g.
 * `{0: 'person', 1: "driver's seat"}`.
 */
export function parseUltralyticsNames(text: string): Map<number, string> {
  const names = new Map<number, string>();
  const entry = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
  for (const match of text.matchAll(entry)) {
    const raw = match[2] ?? match[3] ?? '';
    names.set(Number(match[1]), raw.replace(/\\(.)/g, '$1'));
  }
  return names;
}
