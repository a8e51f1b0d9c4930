import { rm } from 'node:fs/promises';
import { Router, type Request } from 'express';
import { ValidationError } from '../../errors.js';
import { graphSchema, type GraphService, type GraphView } from '../../services/graph.service.js';
import type { Upload } from '../multipart.js';
import { parseBody } from '../validation.js';

export function describeGraph(index: string, graph: GraphView) {
  return {
    object: 'graph' as const,
    index,
    boards: graph.boards,
    pairs: graph.pairs,
    memberships: graph.memberships,
    items: graph.items,
    items_in_index: graph.itemsInIndex,
    unknown_items: graph.unknownItems,
    unknown_sample: graph.unknownSample,
    updated_at: graph.updatedAt,
  };
}

/** `/v1/indexes/{name}/graph`: the item graph neighbor alignment learns from. */
export function graphRouter(deps: { graphs: GraphService; upload: Upload }) {
  const router = Router();
  router.post('/v1/indexes/:name/graph', deps.upload.any(), async (req: Request, res) => {
    const name = req.params.name as string;
    const file = ((req.files ?? []) as Express.Multer.File[]).find((entry) => entry.fieldname === 'graph');
    try {
      if (req.is('multipart/form-data')) {
        if (!file?.path) throw new ValidationError('send the JSONL graph in a multipart file field named "graph"', { param: 'graph', code: 'missing_file' });
        res.json(describeGraph(name, await deps.graphs.replaceFromFile(name, file.path)));
        return;
      }
      res.json(describeGraph(name, deps.graphs.replace(name, parseBody(graphSchema, req.body))));
    } finally {
      if (file?.path) await rm(file.path, { force: true });
    }
  });
  router.get('/v1/indexes/:name/graph', (req, res) => {
    res.json(describeGraph(req.params.name, deps.graphs.view(req.params.name)));
  });
  router.delete('/v1/indexes/:name/graph', (req, res) => {
    deps.graphs.remove(req.params.name);
    res.json({ index: req.params.name, deleted: true });
  });
  return router;
}
