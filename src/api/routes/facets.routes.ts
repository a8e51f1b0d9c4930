import { Router } from 'express';
import { z } from 'zod';
import type { IndexService } from '../../services/index.service.js';

const facetValue = z.strictObject({ value: z.union([z.string(), z.number(), z.boolean()]), count: z.number().int() });

/** `GET /v1/indexes/{name}/facets`: what the search filters can take, with item counts. */
export const FacetsResponse = z.strictObject({
  object: z.literal('facets'),
  index: z.string(),
  count: z.number().int().describe('Live items in the index'),
  categories: z.array(z.strictObject({ value: z.string(), count: z.number().int() })).describe('Each category with its item count, largest first'),
  attributes: z
    .array(z.strictObject({ name: z.string(), values: z.array(facetValue).describe('Largest first') }))
    .describe('Each attribute name (by name) with its scalar values and their item counts'),
});

/** Category and attribute values of an index with their item counts, for search filters. */
export function facetsRouter(deps: { indexes: IndexService }) {
  const router = Router();
  router.get('/v1/indexes/:name/facets', (req, res) => {
    const index = deps.indexes.get(req.params.name);
    const attributes = new Map<string, z.infer<typeof facetValue>[]>();
    for (const { name, value, count } of index.attributeCounts()) {
      let values = attributes.get(name);
      if (!values) attributes.set(name, (values = []));
      values.push({ value, count });
    }
    const body: z.infer<typeof FacetsResponse> = {
      object: 'facets',
      index: index.name,
      count: index.count,
      categories: index.categoryCounts().map(({ category, count }) => ({ value: category, count })),
      attributes: [...attributes].map(([name, values]) => ({ name, values })),
    };
    res.json(body);
  });
  return router;
}
