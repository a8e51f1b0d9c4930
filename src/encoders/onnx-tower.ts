import ort from 'onnxruntime-node';
import type { ExecutionProviderName } from '../config.js';
import { ModelUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { splitRowsNormalized } from './vectors.js';
import type { TokenizedText } from './text-tokenizer.js';

export interface SessionOptions {
  /** Providers to try, in order. */
  providers: readonly ExecutionProviderName[];
  /** ONNX Runtime intra-op threads; 0 lets it decide. */
  intraOpThreads: number;
  logger: Logger;
  /** Settings of the WebGPU provider, used only when it is the one tried. */
  webgpu?: WebGpuOptions | undefined;
  /**
   * Writes ONNX Runtime's profile (a Chrome trace JSON: per-node kernel times, host↔device
   * copies) to files starting with this prefix; for benchmarks. @defaultValue no profile
   */
  profileFilePrefix?: string | undefined;
}

/** What onnxruntime-node 1.30 lets a caller set on its WebGPU provider. */
export interface WebGpuOptions {
  /**
   * Layout of layout-sensitive operators (Conv, pooling). NHWC ran a ViT-B/32 tower exported in
   * float16 about 1.5× faster at batch 32 on an H200 (shared/GPU.md). @defaultValue 'NHWC'
   */
  preferredLayout?: 'NCHW' | 'NHWC' | undefined;
  /** Dawn's validation; 'disabled' saves CPU time per dispatch but a GPU error can crash the process. @defaultValue 'basic' */
  validationMode?: 'disabled' | 'wgpuOnly' | 'basic' | 'full' | undefined;
  /**
   * Further session configuration entries (ONNX Runtime's `AddConfigEntry`, string values), for
   * example `ep.webgpuexecutionprovider.enableGraphCapture` or `ep.webgpuexecutionprovider.enableInt64`.
   */
  configEntries?: Readonly<Record<string, string>> | undefined;
}

/**
 * The ONNX Runtime session options for one provider: the graph fully optimized, the thread count
 * for the CPU, and the provider's own settings. Pure, so the options each provider gets are tested.
 */
export function sessionOptionsFor(provider: ExecutionProviderName, options: Omit<SessionOptions, 'providers' | 'logger'>): ort.InferenceSession.SessionOptions {
  const webgpu = options.webgpu ?? {};
  const executionProvider: ort.InferenceSession.ExecutionProviderConfig =
    provider === 'webgpu'
      ? {
          name: 'webgpu',
          preferredLayout: webgpu.preferredLayout ?? 'NHWC',
          ...(webgpu.validationMode ? { validationMode: webgpu.validationMode } : {}),
        }
      : provider;
  const extra = provider === 'webgpu' && webgpu.configEntries && Object.keys(webgpu.configEntries).length > 0 ? { extra: { ...webgpu.configEntries } } : {};
  return {
    executionProviders: [executionProvider],
    graphOptimizationLevel: 'all',
    ...(options.intraOpThreads > 0 ? { intraOpNumThreads: options.intraOpThreads } : {}),
    ...(options.profileFilePrefix ? { enableProfiling: true, profileFilePrefix: options.profileFilePrefix } : {}),
    ...extra,
    logSeverityLevel: 3,
  };
}

export interface LoadedSession {
  session: ort.InferenceSession;
  provider: ExecutionProviderName;
}

/**
 * Creates an ONNX Runtime session on the first provider that loads, logging why each earlier
 * one was skipped (e.g. CUDA libraries not installed, no WebGPU adapter).
 */
export async function createSession(path: string, options: SessionOptions): Promise<LoadedSession> {
  const reasons: string[] = [];
  for (const provider of options.providers) {
    try {
      const session = await ort.InferenceSession.create(path, sessionOptionsFor(provider, options));
      // The provider reported is the one this session was created with: a provider that cannot
      // start (no GPU adapter, no CUDA libraries) throws here, and the next one is tried.
      return { session, provider };
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
      reasons.push(`${provider}: ${reason}`);
      options.logger.warn({ model: path, provider, reason }, 'execution provider unavailable, trying the next one');
    }
  }
  throw new ModelUnavailableError(`no execution provider could load ${path}: ${reasons.join('; ')}`);
}

function tensorInputs(session: ort.InferenceSession) {
  return session.inputMetadata.filter((meta): meta is ort.InferenceSession.TensorValueMetadata => meta.isTensor);
}

/** Picks the embedding output: a conventional name if present, else the first 2-D output. */
function embeddingOutputName(session: ort.InferenceSession, preferred: readonly string[]): string {
  for (const name of preferred) if (session.outputNames.includes(name)) return name;
  const twoD = session.outputMetadata.find((meta) => meta.isTensor && meta.shape.length === 2);
  if (twoD) return twoD.name;
  throw new Error(`no embedding output among ${session.outputNames.join(', ')}`);
}

/** A fixed batch size declared by the graph (some exports are batch-1 only), if any. */
function fixedBatch(meta: ort.InferenceSession.TensorValueMetadata): number | undefined {
  const first = meta.shape[0];
  return typeof first === 'number' && first > 0 ? first : undefined;
}

function outputRows(output: ort.Tensor, rows: number): { data: Float32Array; dimension: number } {
  if (output.dims.length !== 2 || output.dims[0] !== rows) {
    throw new Error(`expected an embedding output of shape [${rows}, D], got [${output.dims.join(', ')}]`);
  }
  if (!(output.data instanceof Float32Array)) throw new Error(`expected float32 embeddings, got ${output.type}`);
  return { data: output.data, dimension: output.dims[1]! };
}

/**
 * What both towers share: a session on its provider, a fixed batch size if the graph declares one,
 * and the embedding output, read as one normalized embedding per row.
 */
abstract class Tower {
  readonly outputName: string;

  /** Subclasses check their inputs first, so an unusable input is reported before the output. */
  constructor(
    readonly session: ort.InferenceSession,
    readonly provider: ExecutionProviderName,
    readonly maxBatch: number | undefined,
    preferredOutputs: readonly string[],
  ) {
    this.outputName = embeddingOutputName(session, preferredOutputs);
  }

  /** Runs the graph on `feeds` (a batch of `rows`) and splits the output into normalized rows. */
  protected async runEmbeddings(feeds: Record<string, ort.Tensor>, rows: number): Promise<Float32Array[]> {
    const results = await this.session.run(feeds, [this.outputName]);
    const { data, dimension } = outputRows(results[this.outputName]!, rows);
    return splitRowsNormalized(data, rows, dimension);
  }
}

/** The image tower: float32 NCHW in, one normalized embedding per image out. */
export class ImageTower extends Tower {
  readonly inputName: string;

  constructor(session: ort.InferenceSession, provider: ExecutionProviderName) {
    const inputs = tensorInputs(session);
    const input = inputs.find((meta) => ['pixel_values', 'image', 'images', 'input'].includes(meta.name)) ?? inputs[0];
    if (!input || inputs.length !== 1) {
      throw new Error(`image tower must take one tensor input, declares ${session.inputNames.join(', ')}`);
    }
    if (input.type !== 'float32') throw new Error(`image tower input ${input.name} is ${input.type}; float32 is supported`);
    super(session, provider, fixedBatch(input), ['image_embeds', 'embedding', 'embeddings', 'image_embedding']);
    this.inputName = input.name;
  }

  /** Embeds `tensors` (each CHW of `shape`) in one run. */
  async embed(tensors: readonly Float32Array[], shape: readonly [number, number, number]): Promise<Float32Array[]> {
    const plane = shape[0] * shape[1] * shape[2];
    const batch = new Float32Array(tensors.length * plane);
    tensors.forEach((tensor, i) => batch.set(tensor, i * plane));
    return this.runEmbeddings({ [this.inputName]: new ort.Tensor('float32', batch, [tensors.length, ...shape]) }, tensors.length);
  }
}

/** The text tower: token ids (int64 or int32, as declared) and, when asked for, the attention mask. */
export class TextTower extends Tower {
  readonly idsName: string;
  readonly idsType: 'int64' | 'int32';
  readonly maskName: string | undefined;
  readonly maskType: 'int64' | 'int32';

  constructor(session: ort.InferenceSession, provider: ExecutionProviderName) {
    const inputs = tensorInputs(session);
    const ids = inputs.find((meta) => ['input_ids', 'text', 'input', 'tokens'].includes(meta.name)) ?? inputs[0];
    if (!ids) throw new Error('text tower declares no tensor input');
    const mask = inputs.find((meta) => meta.name === 'attention_mask');
    const unknown = inputs.filter((meta) => meta !== ids && meta !== mask);
    if (unknown.length > 0) throw new Error(`text tower asks for inputs Lookbook cannot feed: ${unknown.map((m) => m.name).join(', ')}`);
    const idsType = integerType(ids);
    const maskType = mask ? integerType(mask) : 'int64';
    super(session, provider, fixedBatch(ids), ['text_embeds', 'embedding', 'embeddings', 'text_embedding']);
    this.idsName = ids.name;
    this.idsType = idsType;
    this.maskName = mask?.name;
    this.maskType = maskType;
  }

  async embed(texts: readonly TokenizedText[]): Promise<Float32Array[]> {
    const length = texts[0]!.ids.length;
    const feeds: Record<string, ort.Tensor> = {
      [this.idsName]: integerTensor(this.idsType, texts.map((t) => t.ids), length),
    };
    if (this.maskName) feeds[this.maskName] = integerTensor(this.maskType, texts.map((t) => t.attentionMask), length);
    return this.runEmbeddings(feeds, texts.length);
  }
}

function integerType(meta: ort.InferenceSession.TensorValueMetadata): 'int64' | 'int32' {
  if (meta.type === 'int64' || meta.type === 'int32') return meta.type;
  throw new Error(`text input ${meta.name} is ${meta.type}; int64 or int32 is supported`);
}

function integerTensor(type: 'int64' | 'int32', rows: readonly (readonly number[])[], length: number): ort.Tensor {
  if (type === 'int32') {
    const data = new Int32Array(rows.length * length);
    rows.forEach((row, i) => data.set(row, i * length));
    return new ort.Tensor('int32', data, [rows.length, length]);
  }
  const data = new BigInt64Array(rows.length * length);
  rows.forEach((row, i) => row.forEach((value, j) => (data[i * length + j] = BigInt(value))));
  return new ort.Tensor('int64', data, [rows.length, length]);
}
