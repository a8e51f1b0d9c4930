import ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { ExecutionProviderName } from '../config.js';
import { createSession } from '../encoders/onnx-tower.js';
import type { RawImage } from '../encoders/image-preprocessor.js';
import type { Logger } from '../logger.js';
import { parseUltralyticsNames, readOnnxMetadata } from './onnx-metadata.js';
import { decodeYolo, letterbox, nonMaxSuppression, toOriginal, type Box } from './yolo-decoder.js';

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

/** The pixels inside `bbox`, widened by `margin` (a fraction of the box's size) and clipped to the image. */
export async function cropImage(image: RawImage, bbox: readonly [number, number, number, number], margin: number): Promise<RawImage> {
  const [x1, y1, x2, y2] = bbox;
  const mx = (x2 - x1) * margin;
  const my = (y2 - y1) * margin;
  const left = Math.max(0, Math.floor(x1 - mx));
  const top = Math.max(0, Math.floor(y1 - my));
  const right = Math.min(image.width, Math.ceil(x2 + mx));
  const bottom = Math.min(image.height, Math.ceil(y2 + my));
  const width = Math.max(1, right - left);
  const height = Math.max(1, bottom - top);
  const { data, info } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })
    .extract({ left: Math.min(left, image.width - 1), top: Math.min(top, image.height - 1), width: Math.min(width, image.width - left), height: Math.min(height, image.height - top) })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels === 4 ? 4 : 3 };
}
