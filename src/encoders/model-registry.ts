import { NotFoundError } from '../errors.js';
import { DualEncoder, type DualEncoderOptions, type ModelInfo } from './dual-encoder.js';
import { readModelSpec } from './model-layouts.js';

/** The models this process serves, by id, with one default. */
export class ModelRegistry {
  private constructor(
    private readonly models: ReadonlyMap<string, DualEncoder>,
    readonly defaultId: string,
  ) {}

  /** Loads every directory in order; the default is `defaultId` or the first model. */
  static async load(dirs: readonly string[], defaultId: string | undefined, options: DualEncoderOptions): Promise<ModelRegistry> {
    const models = new Map<string, DualEncoder>();
    try {
      for (const dir of dirs) {
        const encoder = await DualEncoder.load(await readModelSpec(dir), options);
        if (models.has(encoder.info.id)) {
          await encoder.close();
          throw new Error(`two model directories declare the id ${encoder.info.id} (the second is ${dir})`);
        }
        models.set(encoder.info.id, encoder);
      }
    } catch (error) {
      await Promise.all([...models.values()].map((model) => model.close()));
      throw error;
    }
    const chosen = defaultId ?? models.keys().next().value;
    if (chosen === undefined || !models.has(chosen)) {
      await Promise.all([...models.values()].map((model) => model.close()));
      throw new Error(`default model ${chosen} is not among the loaded models: ${[...models.keys()].join(', ')}`);
    }
    return new ModelRegistry(models, chosen);
  }

  /** The model called `id`, or the default when `id` is undefined; unknown ids are a 404 listing what exists. */
  get(id?: string): DualEncoder {
    const model = this.models.get(id ?? this.defaultId);
    if (!model) {
      throw new NotFoundError('model_not_found', `model ${JSON.stringify(id)} is not loaded; available: ${this.ids().join(', ')}`, {
        param: 'model',
        details: { available: this.ids() },
      });
    }
    return model;
  }

  ids(): string[] {
    return [...this.models.keys()];
  }

  list(): ModelInfo[] {
    return [...this.models.values()].map((model) => model.info);
  }

  get queued(): number {
    return [...this.models.values()].reduce((sum, model) => sum + model.queued, 0);
  }

  async idle(): Promise<void> {
    await Promise.all([...this.models.values()].map((model) => model.idle()));
  }

  async close(): Promise<void> {
    await Promise.all([...this.models.values()].map((model) => model.close()));
  }
}
