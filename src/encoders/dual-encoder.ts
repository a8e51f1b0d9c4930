import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { preprocessImage, type ImageInput } from './image-preprocessor.js';
import { MicroBatcher } from './micro-batcher.js';
import type { ModelLayout, ModelSpec } from './model-spec.js';
import { plannedSize } from './model-spec.js';
import { createSession, ImageTower, TextTower } from './onnx-tower.js';
import { TextTokenizer, type TokenizedText } from './text-tokenizer.js';

export type TowerName = 'image' | 'text';

/** Hooks for metrics; the encoder itself knows nothing of Prometheus. */
export interface EncoderObserver {
  onBatch(model: string, tower: TowerName, size: number, milliseconds: number): void;
}

export interface DualEncoderOptions {
  providers: Config['models']['providers'];
  intraOpThreads: number;
  batching: Config['batching'];
  maxImagePixels: number;
  logger: Logger;
  observer?: EncoderObserver | undefined;
}

/** What `GET /v1/models` and responses say about a model. */
export interface ModelInfo {
  readonly id: string;
  readonly version: string;
  readonly dimension: number;
  readonly layout: ModelLayout;
  readonly providers: { readonly image: string; readonly text: string };
  readonly contextLength: number;
  readonly imageSize: { readonly width: number; readonly height: number };
  readonly description: string | undefined;
}

export interface TextEmbedding {
  readonly vector: Float32Array;
  readonly tokenCount: number;
  readonly truncated: boolean;
}

export interface ImageEmbedding {
  readonly vector: Float32Array;
  /** Size of the decoded, EXIF-oriented image. */
  readonly width: number;
  readonly height: number;
}

/**
 * One dual encoder: both towers on ONNX Runtime, the model's own preprocessing and tokenizer,
 * and a micro-batcher in front of each tower.
 */
export class DualEncoder {
  readonly info: ModelInfo;
  private readonly imageBatcher: MicroBatcher<Float32Array, Float32Array>;
  private readonly textBatcher: MicroBatcher<TokenizedText, Float32Array>;
  private readonly inputShape: readonly [number, number, number];

  private constructor(
    readonly spec: ModelSpec,
    private readonly imageTower: ImageTower,
    private readonly textTower: TextTower,
    private readonly tokenizer: TextTokenizer,
    dimension: number,
    private readonly options: DualEncoderOptions,
  ) {
    const { crop } = plannedSize(spec.preprocess, 1000, 1000);
    this.inputShape = [3, crop.height, crop.width];
    this.info = Object.freeze({
      id: spec.id,
      version: spec.version,
      dimension,
      layout: spec.layout,
      providers: { image: imageTower.provider, text: textTower.provider },
      contextLength: tokenizer.contextLength,
      imageSize: { width: crop.width, height: crop.height },
      description: spec.description,
    });
    const { batching, observer } = options;
    this.imageBatcher = new MicroBatcher({
      maxBatchSize: Math.min(batching.maxBatchSize, imageTower.maxBatch ?? Infinity),
      maxWaitMs: batching.maxWaitMs,
      maxQueue: batching.maxQueue,
      run: (tensors) => this.imageTower.embed(tensors, this.inputShape),
      onBatch: (size, ms) => observer?.onBatch(spec.id, 'image', size, ms),
    });
    this.textBatcher = new MicroBatcher({
      maxBatchSize: Math.min(batching.maxBatchSize, textTower.maxBatch ?? Infinity),
      maxWaitMs: batching.maxWaitMs,
      maxQueue: batching.maxQueue,
      run: (texts) => this.textTower.embed(texts),
      onBatch: (size, ms) => observer?.onBatch(spec.id, 'text', size, ms),
    });
  }

  /** Loads both towers and the tokenizer, and checks that the towers agree on the dimension. */
  static async load(spec: ModelSpec, options: DualEncoderOptions): Promise<DualEncoder> {
    const sessionOptions = { providers: options.providers, intraOpThreads: options.intraOpThreads, logger: options.logger };
    const [image, text, tokenizer] = await Promise.all([
      createSession(spec.imageModelPath, sessionOptions),
      createSession(spec.textModelPath, sessionOptions),
      TextTokenizer.load(spec.text),
    ]);
    const imageTower = new ImageTower(image.session, image.provider);
    const textTower = new TextTower(text.session, text.provider);
    // Probe each tower once: proves the graphs run and tells the real output dimension.
    const { crop } = plannedSize(spec.preprocess, 1000, 1000);
    const [imageProbe] = await imageTower.embed([new Float32Array(3 * crop.height * crop.width)], [3, crop.height, crop.width]);
    const [textProbe] = await textTower.embed([tokenizer.encode('a')]);
    const dimension = imageProbe!.length;
    if (textProbe!.length !== dimension) {
      throw new Error(`${spec.dir}: image tower gives ${dimension} dimensions, text tower ${textProbe!.length}`);
    }
    if (spec.dimension !== undefined && spec.dimension !== dimension) {
      throw new Error(`${spec.dir}: the model's files declare ${spec.dimension} dimensions, its graphs give ${dimension}`);
    }
    options.logger.info(
      { model: spec.id, version: spec.version, layout: spec.layout, dimension, providers: { image: image.provider, text: text.provider } },
      'model loaded',
    );
    return new DualEncoder(spec, imageTower, textTower, tokenizer, dimension, options);
  }

  /** Decodes (unless given pixels), preprocesses and embeds one image (batched with concurrent callers). */
  async embedImage(bytes: ImageInput, signal?: AbortSignal): Promise<ImageEmbedding> {
    // Announced while decoding, so a batch forming now waits for this image.
    this.imageBatcher.announce();
    let image;
    try {
      image = await preprocessImage(bytes, this.spec.preprocess, { maxPixels: this.options.maxImagePixels });
    } catch (error) {
      this.imageBatcher.withdraw();
      throw error;
    }
    const vector = await this.imageBatcher.submit(image.tensor, signal, { announced: true });
    return { vector, width: image.width, height: image.height };
  }

  /** Embeds an already preprocessed CHW tensor (batched with concurrent callers). */
  embedImageTensor(tensor: Float32Array, signal?: AbortSignal): Promise<Float32Array> {
    return this.imageBatcher.submit(tensor, signal);
  }

  async embedText(text: string, signal?: AbortSignal): Promise<TextEmbedding> {
    const tokens = this.tokenizer.encode(text);
    const vector = await this.textBatcher.submit(tokens, signal);
    return { vector, tokenCount: tokens.tokenCount, truncated: tokens.truncated };
  }

  /**
   * Admits a request's inputs as a whole: throws an OverloadedError (429) when they do not all
   * fit in the towers' queues, before any of them costs work.
   */
  checkCapacity(counts: { images: number; texts: number }): void {
    if (counts.images > 0) this.imageBatcher.checkCapacity(counts.images);
    if (counts.texts > 0) this.textBatcher.checkCapacity(counts.texts);
  }

  tokenize(text: string): TokenizedText {
    return this.tokenizer.encode(text);
  }

  /** Runs counted per tower (for tests and metrics). */
  get runs(): { image: number; text: number } {
    return { image: this.imageBatcher.runs, text: this.textBatcher.runs };
  }

  get queued(): number {
    return this.imageBatcher.queued + this.textBatcher.queued;
  }

  /** Waits until both towers are idle. */
  async idle(): Promise<void> {
    await Promise.all([this.imageBatcher.idle(), this.textBatcher.idle()]);
  }

  async close(): Promise<void> {
    await this.idle();
    await Promise.all([this.imageTower.session.release(), this.textTower.session.release()]);
  }
}
