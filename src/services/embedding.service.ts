import { AppError, ValidationError } from '../errors.js';
import type { DualEncoder, ModelInfo } from '../encoders/dual-encoder.js';
import type { ModelRegistry } from '../encoders/model-registry.js';
import { loadImageReference, type ImageSourceOptions } from '../media/image-source.js';

/** One thing to embed, already told apart by kind. */
export type EmbeddingInput =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'image'; readonly reference: string }
  | { readonly kind: 'image-bytes'; readonly bytes: Uint8Array };

export interface EmbeddingUsage {
  /** Real (non-pad) text tokens fed to the text tower. */
  readonly promptTokens: number;
  readonly images: number;
  /** Indexes of text inputs cut to the model's context length. */
  readonly truncated: readonly number[];
}

export interface EmbeddingBatch {
  readonly model: ModelInfo;
  readonly vectors: readonly Float32Array[];
  /** Decoded size of each image input (undefined for texts). */
  readonly imageSizes: readonly ({ width: number; height: number } | undefined)[];
  readonly usage: EmbeddingUsage;
}

export interface EmbeddingServiceDeps {
  registry: ModelRegistry;
  images: ImageSourceOptions;
}

/**
 * Turns texts and images into L2-normalized embeddings with one model. All inputs of a request
 * go to the encoders at once, so the micro-batchers can put them in the same runs.
 */
export class EmbeddingService {
  constructor(private readonly deps: EmbeddingServiceDeps) {}

  model(id?: string): DualEncoder {
    return this.deps.registry.get(id);
  }

  hasModel(id: string): boolean {
    return this.deps.registry.ids().includes(id);
  }

  async embed(inputs: readonly EmbeddingInput[], modelId: string | undefined, signal?: AbortSignal): Promise<EmbeddingBatch> {
    const model = this.deps.registry.get(modelId);
    const texts = inputs.filter((input) => input.kind === 'text').length;
    model.checkCapacity({ texts, images: inputs.length - texts });
    const results = await Promise.all(
      inputs.map((input, index) => this.embedOne(model, input, `input[${index}]`, signal)),
    );
    let promptTokens = 0;
    let images = 0;
    const truncated: number[] = [];
    results.forEach((result, index) => {
      if (result.kind === 'text') {
        promptTokens += result.tokenCount;
        if (result.truncated) truncated.push(index);
      } else {
        images += 1;
      }
    });
    return {
      model: model.info,
      vectors: results.map((result) => result.vector),
      imageSizes: results.map((result) => (result.kind === 'image' ? { width: result.width, height: result.height } : undefined)),
      usage: { promptTokens, images, truncated },
    };
  }

  private async embedOne(model: DualEncoder, input: EmbeddingInput, param: string, signal?: AbortSignal) {
    try {
      if (input.kind === 'text') {
        if (input.text.trim().length === 0) throw new ValidationError(`${param} is an empty text`, { param, code: 'empty_input' });
        return { kind: 'text' as const, ...(await model.embedText(input.text, signal)) };
      }
      const bytes = input.kind === 'image-bytes' ? input.bytes : await loadImageReference(input.reference, this.deps.images, signal);
      return { kind: 'image' as const, ...(await model.embedImage(bytes, signal)) };
    } catch (error) {
      // Name the input that failed, so a client with 100 inputs knows which one to fix.
      throw error instanceof AppError ? error.about(param) : error;
    }
  }
}
