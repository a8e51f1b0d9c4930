import { z } from 'zod';
import { bbox, binaryFile, flag, formNumber, imageSize, indexModel, jsonField, modelRef } from './common.js';
import { hit } from './indexes.js';

/** Detection, Shop The Look and Complete the Look: JSON bodies or multipart forms with a `file`. */

// Multipart fields arrive as strings; JSON bodies as numbers and arrays: accept both.
const number = (min: number, max: number) => formNumber(z.number().min(min).max(max));
const count = (max: number) => formNumber(z.number().int().min(1).max(max));
// zod's own messages for a tuple are wrong about lengths ("expected array to have >4 items" for two) and say "expected number, received number" of Infinity.
const boxError = { error: 'a box is [x1, y1, x2, y2]: four finite numbers' };
const coordinate = () => z.number(boxError);
const box = jsonField(z.tuple([coordinate(), coordinate(), coordinate(), coordinate()], boxError));
const stringList = jsonField(z.array(z.string().min(1)).min(1));
const sceneImage = z.string().min(1).optional().describe('The scene: URL, data URI or base64 (or a multipart file named "file")');

// Strict, as search and Complete the Look are: a misspelt option ("limt") is refused, not silently left at its default.
export const detectRequest = z.strictObject({
  image: sceneImage,
  confidence: number(0, 1).optional().describe('Lowest detection score kept (default LOOKBOOK_DETECT_CONFIDENCE)'),
  iou: number(0, 1).optional().describe('Non-maximum suppression overlap'),
  max_objects: count(300).optional(),
});
export const detectForm = detectRequest.omit({ image: true }).extend({ file: binaryFile });

export const shopTheLookRequest = detectRequest.extend({
  index: z.string().min(1),
  limit: count(100).default(5).describe('Products per object'),
  min_score: number(0, 1).optional().describe('Lowest detection score (default LOOKBOOK_DETECT_CONFIDENCE)'),
  min_product_score: number(-1, 1).optional(),
  crop: box.optional().describe('Your own box [x1, y1, x2, y2] (JSON in multipart): no detection'),
  category_filter: flag
    .default(true)
    .describe('Restrict products to the catalog categories of each label (see GET /v1/indexes/{name}/categories), when the catalog has categories; a label with none is searched unfiltered'),
  categories: stringList.optional().describe('With crop: restrict to these categories (JSON array in multipart)'),
});
export const shopTheLookForm = shopTheLookRequest.omit({ image: true }).extend({ file: binaryFile });

export const completeTheLookRequest = z.strictObject({
  index: z.string().min(1).describe('The catalog to recommend from'),
  image: sceneImage,
  item_id: z.string().min(1).optional().describe('Or an item of the index: its kept image is the scene'),
  categories: jsonField(z.array(z.string().min(1)).min(1)).optional().describe('Only these catalog categories (JSON array in multipart)'),
  limit: count(100).default(5).describe('Products per category'),
  exclude_present: flag.default(true).describe('Leave out the categories already in the scene'),
});
export const completeTheLookForm = completeTheLookRequest.omit({ image: true, item_id: true }).extend({ file: binaryFile });

const detection = z.strictObject({ bbox, label: z.string(), score: z.number() });

export const detectResponse = z.strictObject({
  image: imageSize,
  detector: z.string().optional().describe('The detector model file'),
  objects: z.array(detection).describe('Best first'),
});

export const shopTheLookResponse = z.strictObject({
  image: imageSize,
  index: z.string(),
  model: indexModel,
  objects: z.array(
    z.strictObject({
      bbox,
      label: z.string().nullable().describe('Null for a crop you gave'),
      score: z.number().nullable(),
      categories: z.array(z.string()).nullable().describe('The catalog categories searched (null: unfiltered)'),
      category_source: z.string().nullable().describe('Where the categories came from: index, configured, derived, request'),
      products: z.array(hit),
    }),
  ),
});

export const completeTheLookResponse = z.strictObject({
  index: z.string(),
  model: indexModel,
  strategy: z.enum(['compatibility', 'visual_similarity']).describe("compatibility: the compatibility model (the index's model is the one it was trained on); else visual similarity"),
  compatibility_model: modelRef.nullable(),
  image: imageSize,
  objects: z.array(detection).describe('The objects detected in the scene'),
  present_categories: z.array(z.string()).describe("Catalog categories of the scene's objects (left out unless exclude_present is false)"),
  categories: z.array(
    z.strictObject({
      category: z.string(),
      products: z.array(hit.extend({ global_score: z.number(), local_score: z.number() })),
    }),
  ),
});
