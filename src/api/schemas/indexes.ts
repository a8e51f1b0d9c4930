import { z } from 'zod';
import { graphSchema } from '../../services/graph.service.js';
import { attributesSchema, itemSchema, vectorSchema, withoutProtoKey } from '../../services/item-input.js';
import { binaryFile, binaryFiles, indexModel, jsonField, jsonObject, listOf } from './common.js';

/** Indexes, items, search, category mappings and item graphs (`/v1/indexes/...`). */

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const filterSchema = z
  .strictObject({
    category: z.union([z.string(), z.array(z.string())], { error: 'one category (a string) or a list of them' }).optional().describe('One category or any of several'),
    attributes: withoutProtoKey(attributesSchema(z.union([scalar, z.array(scalar)], { error: 'a value (a string, a number or a boolean) or a list of them' }), { code: 'invalid_filter' }), { code: 'invalid_filter' })
      .optional()
      .describe('Each attribute equal to the value (or to any of the values), of the same JSON type: 1 matches neither true nor "1"'),
  })
  .describe('Applied inside the search, before cutting to the limit');

/** A graph's candidate list (ef) while building or searching. */
const graphExpansion = z.number().int().min(1).max(4096);

export const createIndexRequest = z.strictObject({
  name: z.string().describe('Lower-case letters, digits, "_" and "-", 1 to 63, starting with a letter or digit'),
  model: z.string().min(1).optional().describe('A loaded model id (default: the default model)'),
  vector_storage: z.enum(['f32', 'f16']).optional().describe('Float vectors kept for rescoring (default f32)'),
  connectivity: z.number().int().min(2).max(128).optional().describe('HNSW links per node (default 16)'),
  expansion_add: graphExpansion.optional().describe('Default 256'),
  expansion_search: graphExpansion.optional().describe('Graph candidates (ef) per unfiltered search, at least the limit × oversampling. Default: the smallest that reaches LOOKBOOK_SEARCH_TARGET_RECALL (0.99) on a sample of the index’s own queries, measured in the background; until then it grows with the index, 64 up to 100k items, 256 at 1M'),
  exact_threshold: z.number().int().min(0).optional().describe('Indexes or filtered subsets up to this size are scanned exactly (default 20000)'),
});

const QUERY_KINDS = ['text', 'image', 'item_id', 'vector'] as const;

/**
 * One of the four kinds of query. zod answers "Invalid input" of a union that no option takes: this
 * says what a query is, or, for a query of one kind, what is wrong with it.
 */
const query = z.union(
  [
    z.strictObject({ text: z.string().min(1) }),
    z.strictObject({ image: z.string().min(1).describe('URL, data URI or base64') }),
    z.strictObject({ item_id: z.string().min(1).describe('More like this item') }),
    z.strictObject({ vector: vectorSchema, model: z.string().optional(), model_version: z.string().optional() }),
  ],
  {
    error: (issue) => {
      const input = issue.input;
      const kinds = input !== null && typeof input === 'object' && !Array.isArray(input) ? QUERY_KINDS.filter((kind) => Object.hasOwn(input, kind)) : [];
      const option = kinds.length === 1 && issue.code === 'invalid_union' ? issue.errors[QUERY_KINDS.indexOf(kinds[0]!)] : undefined;
      if (option) return option.map((inner) => (inner.path.length > 0 ? `${inner.path.join('.')}: ${inner.message}` : inner.message)).join('; ');
      return 'a query is exactly one of {"text"}, {"image"}, {"item_id"} or {"vector"} (with "model" and "model_version")';
    },
  },
);

export const searchOptions = {
  limit: z.number().int().min(1).max(1000).default(10),
  filter: filterSchema.optional(),
  oversampling: z.number().min(1).max(100).default(4).describe('Binary candidates = limit × oversampling'),
  rescore: z.boolean().default(true).describe('Rescore the binary candidates with the float vectors'),
  exact: z.boolean().optional().describe('Scan every code instead of walking the graph'),
  expansion_search: graphExpansion
    .optional()
    .describe("Graph candidates (ef) of this search when it walks the graph unfiltered, in place of the index's expansion_search (at least limit × oversampling): more finds more of the true neighbours for more time. Filtered searches size their own walk"),
};
export const searchRequest = z.strictObject({ query, ...searchOptions });

/** Multipart `POST /v1/indexes/{name}/search/upload`: the fields beside the query image. */
export const searchUploadFields = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(10),
  oversampling: z.coerce.number().min(1).max(100).default(4),
  rescore: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  exact: z.enum(['true', 'false']).optional().transform((v) => (v === undefined ? undefined : v === 'true')),
  expansion_search: z.coerce.number().pipe(graphExpansion).optional(),
  filter: jsonField(filterSchema).optional().describe('JSON filter'),
});
export const searchUploadForm = searchUploadFields.extend({ file: binaryFile });

/** The documented form of `POST …/items`; each item is parsed on its own (`itemsEnvelope`), so one bad item does not sink the batch. */
export const itemsRequest = z.strictObject({ items: z.array(itemSchema).min(1).describe('At most LOOKBOOK_MAX_INPUTS; upserted by id') });
export const itemsEnvelope = z.strictObject({ items: z.array(z.unknown()).min(1) });

/** Multipart `POST …/items/upload`: image files and, optionally, one item object per file. */
export const itemsUploadFields = z.object({
  items: jsonField(z.array(jsonObject)).optional().describe('JSON array, one object per file (id, category, attributes, metadata, …); ids default to file names'),
});
export const itemsUploadForm = itemsUploadFields.extend({ file: binaryFiles });

export const itemsPageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  after: z.string().optional().describe("The previous page's `next_after`"),
});

export const deleteItemsRequest = z.strictObject({ ids: z.array(z.string().min(1)).min(1).max(10_000) });

export const indexResponse = z.strictObject({
  name: z.string(),
  object: z.literal('index'),
  model: indexModel,
  model_loaded: z.boolean().describe('Whether this server has the index’s model loaded (else it cannot embed queries for it)'),
  count: z.number().int(),
  settings: z.strictObject({
    vector_storage: z.enum(['f32', 'f16']),
    connectivity: z.number().int(),
    expansion_add: z.number().int(),
    expansion_search: z.number().int().nullable().describe('null: measured on the index’s own queries, or grown with the index until then (64 up to 100k items, 256 at 1M): see search_expansion'),
    exact_threshold: z.number().int(),
  }),
  search_expansion: z
    .strictObject({
      expansion_search: z.number().int().describe('The ef an unfiltered search (limit 10, oversampling 4) walks the graph with now'),
      exact_scan: z.boolean().describe('Whether unfiltered searches scan every code instead: an index of up to exact_threshold items, or one whose measurement found the scan no slower than the walks the ef needs'),
      source: z
        .enum(['setting', 'measured', 'size'])
        .describe("setting: the index's expansion_search; measured: the smallest ef that reached target_recall on a sample of the index's own queries; size: grown with the index (no measurement yet, or measuring off)"),
      target_recall: z.number().describe('LOOKBOOK_SEARCH_TARGET_RECALL (0: no measuring)'),
      measured: z
        .strictObject({
          expansion_search: z.number().int(),
          recall: z.number().describe('Mean recall@10 at that ef against the exact answer over the codes (their nearest 160 by Hamming distance, rescored)'),
          target_recall: z.number(),
          queries: z.number().int(),
          items: z.number().int().describe('Live items when measured'),
          measured_at: z.string(),
          recall_by_expansion: z.array(z.strictObject({ expansion_search: z.number().int(), recall: z.number(), ms: z.number().describe('Mean time of a search at that ef') })).describe('Every ef tried, smallest first'),
          scanned: z
            .strictObject({ ms: z.number(), recall: z.number() })
            .nullable()
            .describe("Mean time and recall of searches whose candidates at that ef came from a scan of every code instead of a walk; null: not tried, the scan being far slower than the walk"),
          scan: z.boolean().describe('Whether the scan took no longer than the walks, for as much recall: unfiltered searches scan every code'),
        })
        .nullable()
        .describe('The last measurement: made in the background once the index holds more items than exact_threshold and has answered 125 searches (one in four sampled, 32 of them), again when its live items change by a tenth, or 10 minutes after the last once 256 more searches (a whole new sample) have come'),
    })
    .describe("How many graph candidates (ef) unfiltered searches keep, and why"),
  bytes: z.record(z.string(), z.number()).describe('Bytes on disk by part'),
  filter_copies: z
    .strictObject({
      filters: z.number().int().describe('Filters whose codes are copied now'),
      bytes: z.number().int().describe('Memory the copies take'),
      building: z.number().int().describe('Copies being made now, in the background (not counted in filters and bytes until made)'),
      budget_bytes: z.number().int().describe('The most they may take: LOOKBOOK_FILTER_COPY_BYTES_PER_ITEM × the items'),
    })
    .describe("Copies of large filters' codes laid side by side in memory, made for filters searched a second time within a minute and kept up to date through writes"),
  filter_graphs: z
    .strictObject({
      filters: z.number().int().describe('Filters with a graph of their own items built'),
      bytes: z.number().int().describe('Memory the graphs take, those being built included'),
      building: z.number().int().describe('Graphs being built now, in the background (their filters meanwhile searched by the other paths)'),
      budget_bytes: z.number().int().describe('The most they may take: LOOKBOOK_FILTER_GRAPH_BYTES_PER_ITEM × the items'),
    })
    .describe("Graphs of large filters' own items (100,000 and more, too many to scan and too few for the index's graph to walk well), built for filters searched a second time within a minute and kept up to date through writes"),
  created_at: z.string(),
});
export const indexListResponse = listOf(indexResponse);
export const indexDeletedResponse = z.strictObject({ name: z.string(), deleted: z.literal(true) });

export const compactionResponse = z.strictObject({
  object: z.literal('compaction'),
  index: z.string(),
  moved_items: z.number().int().describe('Live items moved from the end of the files into free slots'),
  reclaimed_bytes: z.number().int().describe('Bytes of slots (deleted or replaced items) released for reuse by this compaction'),
  truncated_bytes: z.number().int().describe('Bytes cut from the end of the vector and code files'),
  free_slots: z.number().int().describe('Free slots left inside the files, reused by the next writes'),
  free_bytes: z.number().int(),
  file_bytes_before: z.number().int().describe('Vector and code files, before'),
  file_bytes_after: z.number().int().describe('… and after'),
  took_ms: z.number(),
});

export const itemResponse = z.strictObject({
  id: z.string(),
  category: z.string().nullable(),
  attributes: jsonObject,
  metadata: jsonObject,
  source_url: z.string().nullable(),
  text: z.string().nullable(),
  source_kind: z.string().nullable().describe('What the item was embedded from (null for items written before sources were recorded)'),
  image_url: z.string().nullable().describe('Its kept image, when one was kept'),
  model: z.strictObject({ id: z.string(), version: z.string() }),
  created_at: z.string(),
  updated_at: z.string(),
});
export const itemsPageResponse = z.strictObject({ object: z.literal('list'), data: z.array(itemResponse), next_after: z.string().nullable() });
export const itemDeletedResponse = z.strictObject({ id: z.string(), deleted: z.literal(true) });
export const itemsDeletedResponse = z.strictObject({ deleted: z.array(z.string()), missing: z.array(z.string()) });

export const itemResults = z.strictObject({
  results: z.array(
    z.union([
      z.strictObject({ id: z.string(), status: z.literal('ok') }),
      z.strictObject({ id: z.string(), status: z.literal('error'), error: z.strictObject({ code: z.string(), message: z.string() }) }),
    ]),
  ),
  succeeded: z.number().int(),
  failed: z.number().int(),
});

/** A catalog item found by a search. */
export const hit = z.strictObject({
  id: z.string(),
  score: z.number().describe('Cosine similarity (or the binary score without rescoring)'),
  category: z.string().nullable(),
  attributes: jsonObject,
  metadata: jsonObject,
  source_url: z.string().nullable(),
  text: z.string().nullable(),
});

export const searchResponse = z.strictObject({
  object: z.literal('list'),
  index: z.string(),
  model: indexModel,
  strategy: z.string().describe('How the candidates were found: hnsw (a graph walk, from the sampled codes nearest to the query, that did not fall short of the sample), hnsw-from-top (that walk fell short of a sample of the codes, or found fewer candidates than asked while the index holds more, and a walk at the same ef from the top of the graph did not), hnsw-seeded (the same the other way round, where walks start from the top: a walk from the top fell short and one from the sampled codes did not), hnsw-widened (the second walk fell short too, and a walk at four times the ef did not), exact, exact-after-hnsw (all three walks fell short, so every code was scanned), filtered-exact, filtered-hnsw, filtered-exact-after-hnsw (too few of the graph\'s candidates passed the filter, so its items were scanned), filtered-exact-far (a sample of the codes nearest to the query held too few of the filter\'s items for a walk to find them, so they were scanned without one), filtered-graph (the graph of the filter\'s own items was walked)'),
  candidates: z.number().int(),
  took_ms: z.number(),
  data: z.array(hit),
});

/**
 * Detector label → catalog categories: an object with any keys checked one by one, not a record
 * (zod's records refuse an object with its own "constructor" key, "expected record, received object").
 */
const labelCategories = z
  .object({})
  .catchall(z.array(z.string().min(1).max(256)).max(1000))
  .superRefine((labels, context) => {
    for (const label of Object.keys(labels)) {
      if (label.length < 1 || label.length > 256) context.addIssue({ code: 'custom', path: [label], message: 'a detector label has 1 to 256 characters' });
    }
  })
  .meta({ propertyNames: { type: 'string', minLength: 1, maxLength: 256 } });

export const categoryOverridesRequest = z.strictObject({
  labels: withoutProtoKey(labelCategories.describe('Detector label → catalog categories')),
});

export const categoryMappingResponse = z.strictObject({
  object: z.literal('category_mapping'),
  index: z.string(),
  categories: z.array(z.strictObject({ category: z.string(), count: z.number().int(), labels: z.array(z.string()) })),
  labels: z.array(
    z.strictObject({
      label: z.string(),
      categories: z.array(z.string()),
      source: z.enum(['index', 'configured', 'derived', 'none']),
      searched: z.enum(['filtered', 'unfiltered']),
    }),
  ),
});

export { graphSchema as graphRequest };
export const graphForm = z.object({ graph: binaryFile.describe('JSONL: a board {"id" (or "board"), "items": [...]} or a pair ["a", "b", weight?] (or {"pair": [...]}) per line') });

export const graphResponse = z.strictObject({
  object: z.literal('graph'),
  index: z.string(),
  boards: z.number().int(),
  pairs: z.number().int(),
  memberships: z.number().int(),
  items: z.number().int().describe('Distinct item ids the graph names'),
  items_in_index: z.number().int(),
  unknown_items: z.number().int().describe('Graph items the index does not hold (left out of alignment until they are added)'),
  unknown_sample: z.array(z.string()),
  updated_at: z.string().nullable(),
});
export const graphDeletedResponse = z.strictObject({ index: z.string(), deleted: z.literal(true) });

const facetValue = z.strictObject({ value: z.union([z.string(), z.number(), z.boolean()]), count: z.number().int() });

/** `GET /v1/indexes/{name}/facets`: what the search filters can take, with item counts. */
export const facetsResponse = z.strictObject({
  object: z.literal('facets'),
  index: z.string(),
  count: z.number().int().describe('Live items in the index'),
  categories: z.array(z.strictObject({ value: z.string(), count: z.number().int() })).describe('Each category with its item count, largest first'),
  attributes: z
    .array(z.strictObject({ name: z.string(), values: z.array(facetValue).describe('Largest first') }))
    .describe('Each attribute name (by name) with its scalar values and their item counts'),
});
export type FacetValue = z.infer<typeof facetValue>;
