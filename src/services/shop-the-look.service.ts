import type { Config } from '../config.js';
import { decodeImage, type RawImage } from '../encoders/image-preprocessor.js';
import { cropImage, type DetectOptions, type Detection, type Detector } from '../detection/detector.js';
import { AppError, ValidationError } from '../errors.js';
import { loadImageReference, type ImageSourceOptions } from '../media/image-source.js';
import type { CategoryMapper } from './category-map.service.js';
import { describeHit, type IndexService } from './index.service.js';

export type SceneImage = { readonly kind: 'reference'; readonly reference: string } | { readonly kind: 'bytes'; readonly bytes: Uint8Array };

export interface ShopTheLookRequest extends Partial<DetectOptions> {
  readonly image: SceneImage;
  readonly index: string;
  /** Products per object. @defaultValue 5 */
  readonly limit: number;
  /** Lowest detection score kept (the detector's confidence threshold). */
  readonly minScore?: number | undefined;
  /** Lowest product similarity kept. */
  readonly minProductScore?: number | undefined;
  /** The caller's own box: skip detection and search this crop. */
  readonly crop?: readonly [number, number, number, number] | undefined;
  /** Restrict each object's products to the catalog categories of its label. @defaultValue true */
  readonly categoryFilter: boolean;
  /** With `crop`: restrict to these categories. */
  readonly categories?: readonly string[] | undefined;
}

export class DetectorUnavailableError extends AppError {
  constructor() {
    super(503, 'service_unavailable_error', 'detector_unavailable', 'no object detector is configured (LOOKBOOK_DETECTOR); send a crop box instead');
  }
}

/**
 * Shop The Look (Pinterest): detect the objects of a scene, crop each, embed the crop with the
 * index's model and retrieve products per object, restricted to the catalog categories the
 * detector's label maps to.
 */
export class ShopTheLookService {
  constructor(
    private readonly deps: {
      detector: Detector | undefined;
      indexes: IndexService;
      images: ImageSourceOptions;
      maxPixels: number;
      detection: Config['detection'];
      /** Detector labels → the catalog's own categories. */
      categories: CategoryMapper;
    },
  ) {}

  get detector(): Detector | undefined {
    return this.deps.detector;
  }

  private async decode(image: SceneImage, signal?: AbortSignal): Promise<RawImage> {
    const bytes = image.kind === 'bytes' ? image.bytes : await loadImageReference(image.reference, this.deps.images, signal);
    try {
      return await decodeImage(bytes, this.deps.maxPixels);
    } catch (error) {
      throw error instanceof AppError ? error.about('image') : error;
    }
  }

  private options(request: Partial<DetectOptions> & { minScore?: number | undefined }): DetectOptions {
    const defaults = this.deps.detection;
    return {
      confidence: request.minScore ?? request.confidence ?? defaults.confidence,
      iou: request.iou ?? defaults.iou,
      maxObjects: request.maxObjects ?? defaults.maxObjects,
    };
  }

  async detect(image: SceneImage, request: Partial<DetectOptions>, signal?: AbortSignal) {
    const detector = this.deps.detector;
    if (!detector) throw new DetectorUnavailableError();
    const pixels = await this.decode(image, signal);
    const objects = await detector.detect(pixels, this.options(request));
    return { image: { width: pixels.width, height: pixels.height }, objects };
  }

  async shop(request: ShopTheLookRequest, signal?: AbortSignal) {
    const index = this.deps.indexes.get(request.index);
    const pixels = await this.decode(request.image, signal);
    let objects: (Omit<Detection, 'label' | 'score' | 'classId'> & { label: string | null; score: number | null })[];
    if (request.crop) {
      const [x1, y1, x2, y2] = request.crop;
      if (!(x2 > x1 && y2 > y1 && x1 < pixels.width && y1 < pixels.height && x2 > 0 && y2 > 0)) {
        throw new ValidationError(`crop [${request.crop.join(', ')}] is not a box inside the ${pixels.width}×${pixels.height} image`, {
          param: 'crop',
          code: 'invalid_crop',
        });
      }
      objects = [{ bbox: [Math.max(0, x1), Math.max(0, y1), Math.min(pixels.width, x2), Math.min(pixels.height, y2)], label: null, score: null }];
    } else {
      const detector = this.deps.detector;
      if (!detector) throw new DetectorUnavailableError();
      objects = await detector.detect(pixels, this.options(request));
    }
    const filterByCategory = request.categoryFilter && index.hasCategories;
    const fill = this.deps.indexes.backgroundOf(request.index);
    const results = await Promise.all(
      objects.map(async (object) => {
        const crop = await cropImage(pixels, object.bbox, request.crop ? 0 : this.deps.detection.cropMargin, {
          square: this.deps.detection.cropSquare,
          fill,
        });
        // A label that no catalog category goes to is searched unfiltered, and says so.
        const mapped = object.label !== null && filterByCategory ? await this.deps.categories.categoriesFor(index, object.label) : undefined;
        const categories = object.label === null ? request.categories : mapped && mapped.categories.length > 0 ? mapped.categories : undefined;
        const categorySource = object.label === null ? (request.categories ? 'request' : null) : (mapped?.source ?? null);
        const found = await this.deps.indexes.search(
          request.index,
          {
            query: { kind: 'pixels', image: crop },
            limit: request.limit,
            oversampling: 4,
            rescore: true,
            filter: categories ? { category: categories } : undefined,
          },
          signal,
        );
        const products = found.hits.filter((hit) => request.minProductScore === undefined || hit.score >= request.minProductScore).map(describeHit);
        return { bbox: object.bbox, label: object.label, score: object.score, categories: categories ?? null, category_source: categorySource, products };
      }),
    );
    return { image: { width: pixels.width, height: pixels.height }, index: index.name, model: index.model, objects: results };
  }
}
