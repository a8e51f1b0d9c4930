import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { ExecutionProviderName } from '../config.js';
import { createSession } from '../encoders/onnx-tower.js';
import type { RawImage } from '../encoders/image-preprocessor.js';
import type { Logger } from '../logger.js';
import { parseUltralyticsNames, readOnnxMetadata } from './onnx-metadata.js';
import { decodeYolo, letterbox, nonMaxSuppression, toOriginal, type Box, type Letterbox } from './yolo-decoder.js';

export interface DetectOptions {
  /** Lowest class score kept. @defaultValue 0.25 (Ultralytics' default) */
  confidence: number;
  /** IoU above which a lower-scored box of the same class is dropped. @defaultValue 0.45 */
  iou: number;
  /** Most objects returned, best first. @defaultValue 20 */
  maxObjects: number;
}

export interface Detection {
  /** [x1, y1, x2, y2] in pixels of the original, EXIF-oriented image. */
  readonly bbox: [number, number, number, number];
  readonly label: string;
  readonly classId: number;
  readonly score: number;
}

export interface DetectorInfo {
  readonly path: string;
  readonly inputSize: number;
  readonly labels: readonly string[];
  readonly provider: string;
}

const PAD = 114;

/**
 * An object detector in the Ultralytics YOLO ONNX format: input `images [N,3,S,S]`
 * (letterboxed RGB / 255), output `[N, 4 + classes, anchors]` without NMS, class names in the
 * file's `metadata_props` (`names`). Decoding, class-aware NMS and the mapping back to the
 * original image happen here, so Ultralytics exports and Lookbook's own detector run the same way.
 */
export class Detector {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly info: DetectorInfo,
    private readonly inputName: string,
    private readonly outputName: string,
  ) {}

  static async load(path: string, options: { providers: readonly ExecutionProviderName[]; intraOpThreads: number; logger: Logger }): Promise<Detector> {
    if (!existsSync(path)) throw new Error(`detector ${path} not found (LOOKBOOK_DETECTOR; "none" runs without a detector)`);
    const metadata = readOnnxMetadata(path);
    const { session, provider } = await createSession(path, options);
    const input = session.inputMetadata.find((meta) => meta.isTensor);
    if (!input || !input.isTensor || input.shape.length !== 4) throw new Error(`${path}: expected one NCHW image input`);
    const declared = input.shape[2];
    const fromMeta = metadata.imgsz ? Number(/\d+/.exec(metadata.imgsz)?.[0]) : NaN;
    const inputSize = typeof declared === 'number' && declared > 0 ? declared : Number.isFinite(fromMeta) ? fromMeta : 640;
    const names = parseUltralyticsNames(metadata.names ?? '');
    const output = session.outputMetadata.find((meta) => meta.isTensor);
    if (!output) throw new Error(`${path}: no tensor output`);
    const classes = output.isTensor && typeof output.shape[1] === 'number' ? output.shape[1] - 4 : names.size;
    if (classes <= 0) throw new Error(`${path}: cannot tell the number of classes (no names metadata, dynamic output shape)`);
    const labels = Array.from({ length: classes }, (_, i) => names.get(i) ?? `class_${i}`);
    options.logger.info({ detector: path, inputSize, classes: labels.length, provider }, 'detector loaded');
    return new Detector(session, { path, inputSize, labels, provider }, input.name, output.name);
  }

  /** Detects objects in decoded pixels. */
  async detect(image: RawImage, options: DetectOptions): Promise<Detection[]> {
    const size = this.info.inputSize;
    const { tensor, letterbox: lb } = await letterboxTensor(image, size);
    const results = await this.session.run({ [this.inputName]: new ort.Tensor('float32', tensor, [1, 3, size, size]) }, [this.outputName]);
    const output = results[this.outputName]!;
    const [, rows, anchors] = output.dims as number[];
    if (output.dims.length !== 3 || rows !== 4 + this.info.labels.length) {
      throw new Error(`detector output is [${output.dims.join(', ')}], expected [1, ${4 + this.info.labels.length}, anchors]`);
    }
    const boxes = decodeYolo(output.data as Float32Array, this.info.labels.length, anchors!, options.confidence);
    const kept = nonMaxSuppression(boxes, options.iou, options.maxObjects);
    return kept
      .map((box) => toOriginal(box, lb, image.width, image.height))
      .filter((box) => box.x2 - box.x1 >= 1 && box.y2 - box.y1 >= 1)
      .map((box) => this.describe(box));
  }

  private describe(box: Box): Detection {
    const round = (value: number) => Math.round(value * 10) / 10;
    return {
      bbox: [round(box.x1), round(box.y1), round(box.x2), round(box.y2)],
      label: this.info.labels[box.classId]!,
      classId: box.classId,
      score: Math.round(box.score * 10_000) / 10_000,
    };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The detector's input for one image, as Ultralytics prepares it: letterboxed to `size` × `size`
 * (bilinear resize, padding 114), RGB / 255, CHW float32.
 */
export async function letterboxTensor(image: RawImage, size: number): Promise<{ tensor: Float32Array; letterbox: Letterbox }> {
  const lb = letterbox(image.width, image.height, size);
  const { data } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .flatten({ background: { r: PAD, g: PAD, b: PAD } })
    // Ultralytics resizes with OpenCV's INTER_LINEAR.
    .resize(lb.width, lb.height, { fit: 'fill', kernel: 'linear' })
    .extend({
      top: lb.padTop,
      left: lb.padLeft,
      bottom: size - lb.height - lb.padTop,
      right: size - lb.width - lb.padLeft,
      background: { r: PAD, g: PAD, b: PAD },
    })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = size * size;
  const tensor = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    tensor[i] = data[i * 3]! / 255;
    tensor[plane + i] = data[i * 3 + 1]! / 255;
    tensor[2 * plane + i] = data[i * 3 + 2]! / 255;
  }
  return { tensor, letterbox: lb };
}

/** The pixels inside `bbox`, widened by `margin` (a fraction of the box's size) and clipped to the image. */
export async function cropImage(
  image: RawImage,
  bbox: readonly [number, number, number, number],
  margin: number,
  options: { square?: boolean; fill?: readonly [number, number, number] } = {},
): Promise<RawImage> {
  const [x1, y1, x2, y2] = bbox;
  let mx = (x2 - x1) * margin;
  let my = (y2 - y1) * margin;
  if (options.square) {
    // Grow the short side to the long one around the box's centre, so that a model that resizes
    // the shortest edge and center-crops sees the whole object, not its middle.
    const side = Math.max(x2 - x1 + 2 * mx, y2 - y1 + 2 * my);
    mx = (side - (x2 - x1)) / 2;
    my = (side - (y2 - y1)) / 2;
  }
  const wantLeft = Math.floor(x1 - mx);
  const wantTop = Math.floor(y1 - my);
  const wantRight = Math.ceil(x2 + mx);
  const wantBottom = Math.ceil(y2 + my);
  const left = Math.min(Math.max(0, wantLeft), image.width - 1);
  const top = Math.min(Math.max(0, wantTop), image.height - 1);
  const width = Math.max(1, Math.min(image.width, wantRight) - left);
  const height = Math.max(1, Math.min(image.height, wantBottom) - top);
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } }).extract({ left, top, width, height });
  if (options.square) {
    // What lies outside the image is filled (the model's background colour), keeping the box centred.
    const [r, g, b] = options.fill ?? [255, 255, 255];
    const pad = { left: left - wantLeft, top: top - wantTop, right: wantRight - (left + width), bottom: wantBottom - (top + height) };
    if (pad.left > 0 || pad.top > 0 || pad.right > 0 || pad.bottom > 0) {
      // One pipeline: sharp applies extract (before any resize) and then extend.
      pipeline = pipeline.extend({
        left: Math.max(0, pad.left),
        top: Math.max(0, pad.top),
        right: Math.max(0, pad.right),
        bottom: Math.max(0, pad.bottom),
        background: { r, g, b, alpha: 1 },
      });
    }
  }
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels === 4 ? 4 : 3 };
}
