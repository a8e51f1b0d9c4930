import { Router, type Request } from 'express';
import { ValidationError } from '../../errors.js';
import { graphSchema, type GraphService, type GraphView } from '../../services/graph.service.js';
import type { Upload } from '../multipart.js';
import { removeStaged, stagedDocument } from '../staged-documents.js';
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
    try {
      if (req.is('multipart/form-data')) {
        const path = stagedDocument(req, 'graph');
        if (!path) throw new ValidationError('send the JSONL graph in a multipart file field named "graph"', { param: 'graph', code: 'missing_file' });
        res.json(describeGraph(name, await deps.graphs.replaceFromFile(name, path)));
        return;
      }
      res.json(describeGraph(name, deps.graphs.replace(name, parseBody(graphSchema, req.body))));
    } finally {
      await removeStaged(req);
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
