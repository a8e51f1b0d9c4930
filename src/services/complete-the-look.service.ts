import type { Config } from '../config.js';
import { cropImage, type Detection, type Detector } from '../detection/detector.js';
import type { CompatibilityModel } from '../encoders/compatibility-model.js';
import { decodeImage, type RawImage } from '../encoders/image-preprocessor.js';
import { AppError, ConflictError, NotFoundError, ValidationError, nameSome } from '../errors.js';
import type { CatalogItem } from '../index/catalog.js';
import type { VectorIndex } from '../index/vector-index.js';
import { loadImageReference, type ImageSourceOptions } from '../media/image-source.js';
import type { CategoryMapper } from './category-map.service.js';
import type { IndexService } from './index.service.js';
import { describeHit } from './index.service.js';

export type LookSource = { readonly kind: 'reference'; readonly reference: string } | { readonly kind: 'bytes'; readonly bytes: Uint8Array } | { readonly kind: 'item'; readonly id: string };

export interface CompleteTheLookRequest {
  readonly source: LookSource;
  readonly index: string;
  /** Only these catalog categories (default: all but those in the scene). */
  readonly categories?: readonly string[] | undefined;
  /** Products per category. @defaultValue 5 */
  readonly limit: number;
  /** Leave out the categories of the objects in the scene (or of the item). @defaultValue true */
  readonly excludePresent: boolean;
}

/** Candidates per category taken from the index (by the global term) before the local term re-scores them. */
const CANDIDATES = 50;

/**
 * Complete the Look (Kang et al., CVPR 2019): given a scene (or a catalog item), products of the
 * other categories that go with it. The scene's objects are detected and mapped to catalog
 * categories (the same mapping as Shop The Look); those categories are left out. For each other
 * category, candidates come from the index by the compatibility model's global term (a query vector
 * from the scene's embedding: one filtered search), and are re-scored with the local term, each
 * product attending over the scene's regions (the detected objects' embeddings). All of it works on
 * base embeddings, so an index switched to an alignment head keeps its compatibility. An index built
 * from another model than the compatibility model's is ranked by visual similarity (`strategy`).
 */
export class CompleteTheLookService {
  constructor(
    private readonly deps: {
      indexes: IndexService;
      detector: Detector | undefined;
      model: CompatibilityModel | undefined;
      categories: CategoryMapper;
      images: ImageSourceOptions;
      detection: Config['detection'];
      maxPixels: number;
    },
  ) {}

  get model(): CompatibilityModel | undefined {
    return this.deps.model;
  }

  private async scene(index: VectorIndex, source: LookSource, signal?: AbortSignal): Promise<{ pixels: RawImage; item?: CatalogItem }> {
    let bytes: Uint8Array;
    let item: CatalogItem | undefined;
    if (source.kind === 'item') {
      item = index.get(source.id);
      if (!item) throw new NotFoundError('item_not_found', `index ${index.name} has no item ${JSON.stringify(source.id)}`, { param: 'item_id' });
      bytes = await this.deps.indexes.imageOf(index.name, source.id);
    } else bytes = source.kind === 'bytes' ? source.bytes : await loadImageReference(source.reference, this.deps.images, signal);
    try {
      return { pixels: await decodeImage(bytes, this.deps.maxPixels), item };
    } catch (error) {
      throw error instanceof AppError ? error.about(source.kind === 'item' ? 'item_id' : 'image') : error;
    }
  }

  async complete(request: CompleteTheLookRequest, signal?: AbortSignal) {
    return this.deps.indexes.store.read(request.index, async (index) => {
      const resolved = this.deps.indexes.encoderFor(index);
      if (!resolved) {
        throw new ConflictError('index_model_unavailable', `index ${index.name} was built with ${index.model.id}@${index.model.version}, which this server has not loaded`);
      }
      const known = index.categoryCounts().map((entry) => entry.category);
      if (known.length === 0) {
        throw new ConflictError('no_categories', `index ${index.name} has no categories: Complete the Look recommends products of other categories than the scene's; give items a category`);
      }
      const unknown = (request.categories ?? []).filter((category) => !known.includes(category));
      if (unknown.length > 0) {
        throw new ValidationError(`unknown categories ${nameSome(unknown)}; index ${index.name} has: ${known.join(', ')}`, {
          param: 'categories',
          code: 'unknown_category',
          details: { known },
        });
      }
      const { pixels, item } = await this.scene(index, request.source, signal);
      const encoder = resolved.encoder;
      const objects: Detection[] = this.deps.detector ? await this.deps.detector.detect(pixels, { confidence: this.deps.detection.confidence, iou: this.deps.detection.iou, maxObjects: this.deps.detection.maxObjects }) : [];
      const fill = encoder.spec.preprocess.background;
      const [scene, regions] = await Promise.all([
        encoder.embedImage(pixels, signal).then((embedding) => embedding.vector),
        Promise.all(objects.map(async (object) => (await encoder.embedImage(await cropImage(pixels, object.bbox, this.deps.detection.cropMargin, { square: this.deps.detection.cropSquare, fill }), signal)).vector)),
      ]);
      // The categories already in the scene: its objects' (through the label mapping), or the item's own.
      const present = new Set<string>();
      if (item?.category) present.add(item.category);
      for (const object of objects) for (const category of (await this.deps.categories.categoriesFor(index, object.label)).categories) present.add(category);
      const targets = [...new Set(request.categories ?? known)].filter((category) => !(request.excludePresent && present.has(category)));

      const base = { id: index.model.id, version: index.model.base ?? index.model.version };
      const model = this.deps.model?.fits(base) ? this.deps.model : undefined;
      const query = model ? await model.query(scene) : scene;
      const groups = await Promise.all(
        targets.map(async (category) => {
          const found = index.searchBase(query, { limit: Math.max(CANDIDATES, request.limit), filter: { category: [category] }, excludeIds: item ? [item.id] : [] });
          const candidates = found.map((hit) => ({ hit, base: index.baseVectorOf(hit.item) }));
          const global = candidates.map(({ base: vector }) => vector.reduce((sum, value, i) => sum + value * query[i]!, 0));
          const local = model && regions.length > 0 && candidates.length > 0 ? await model.local(candidates.map((entry) => entry.base), regions) : new Float32Array(candidates.length);
          const ranked = candidates
            .map(({ hit }, i) => ({ hit, score: global[i]! + local[i]!, global: global[i]!, local: local[i]! }))
            .sort((a, b) => b.score - a.score)
            .slice(0, request.limit);
          return {
            category,
            products: ranked.map(({ hit, score, global: g, local: l }) => ({ ...describeHit(hit), score, global_score: g, local_score: l })),
          };
        }),
      );
      return {
        index: index.name,
        model: index.model,
        strategy: model ? ('compatibility' as const) : ('visual_similarity' as const),
        compatibility_model: model ? { id: model.info.id, version: model.info.version } : null,
        image: { width: pixels.width, height: pixels.height },
        objects: objects.map((object) => ({ bbox: object.bbox, label: object.label, score: object.score })),
        present_categories: [...present],
        categories: groups.filter((group) => group.products.length > 0),
      };
    });
  }
}
