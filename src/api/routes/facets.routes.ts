import { Router } from 'express';
import { z } from 'zod';
import type { IndexService } from '../../services/index.service.js';
import { facetsResponse, type FacetValue } from '../schemas/indexes.js';

/** Category and attribute values of an index with their item counts, for search filters. */
export function facetsRouter(deps: { indexes: IndexService }) {
  const router = Router();
  router.get('/v1/indexes/:name/facets', (req, res) => {
    const index = deps.indexes.get(req.params.name);
    const attributes = new Map<string, FacetValue[]>();
    for (const { name, value, count } of index.attributeCounts()) {
      let values = attributes.get(name);
      if (!values) attributes.set(name, (values = []));
      values.push({ value, count });
    }
    const body: z.infer<typeof facetsResponse> = {
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
