import { Router } from 'express';
import type { CategoryMapper, CategoryMapping, CategoryOverrides } from '../../services/category-map.service.js';
import type { IndexService } from '../../services/index.service.js';
import { categoryOverridesRequest } from '../schemas/indexes.js';
import { parseBody } from '../validation.js';

function describeMapping(index: string, mapping: CategoryMapping) {
  return {
    object: 'category_mapping' as const,
    index,
    categories: mapping.categories.map(({ category, count, labels }) => ({ category, count, labels })),
    labels: mapping.labels.map(({ label, categories, source }) => ({ label, categories, source, searched: categories.length > 0 ? ('filtered' as const) : ('unfiltered' as const) })),
  };
}

/**
 * `/v1/indexes/{name}/categories`: the catalog's categories with their item counts and the detector
 * labels that map to them (derived from the catalog, or set per index), as Shop The Look and
 * Complete the Look use them.
 */
export function categoriesRouter(deps: { indexes: IndexService; categories: CategoryMapper; overrides: CategoryOverrides }) {
  const router = Router();
  router.get('/v1/indexes/:name/categories', async (req, res) => {
    const index = deps.indexes.get(req.params.name);
    res.json(describeMapping(index.name, await deps.categories.mapping(index)));
  });
  router.put('/v1/indexes/:name/categories', async (req, res) => {
    const index = deps.indexes.get(req.params.name);
    const body = parseBody(categoryOverridesRequest, req.body);
    deps.categories.checkLabels(Object.keys(body.labels));
    deps.overrides.set(index.name, body.labels);
    res.json(describeMapping(index.name, await deps.categories.mapping(index)));
  });
  router.delete('/v1/indexes/:name/categories', async (req, res) => {
    const index = deps.indexes.get(req.params.name);
    deps.overrides.remove(index.name);
    res.json(describeMapping(index.name, await deps.categories.mapping(index)));
  });
  return router;
}
