import { Router, type Request } from 'express';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../errors.js';
import type { CatalogItem } from '../../index/catalog.js';
import type { VectorIndex } from '../../index/vector-index.js';
import { describeHit, type IndexService, type Query } from '../../services/index.service.js';
import { itemSchema, parseItem, toNewItem } from '../../services/item-input.js';
import { compactionResponse, createIndexRequest, deleteItemsRequest, filterSchema, itemsEnvelope, itemsPageQuery, itemsUploadFields, searchOptions, searchRequest, searchUploadFields } from '../schemas/indexes.js';
import type { Upload } from '../multipart.js';
import { sniffImageType } from '../../media/image-type.js';
import { parseBody } from '../validation.js';
import type { Metrics } from '../../metrics.js';

function toFilter(filter: z.infer<typeof filterSchema> | undefined) {
  if (!filter) return undefined;
  return {
    category: filter.category === undefined ? undefined : Array.isArray(filter.category) ? filter.category : [filter.category],
    attributes: filter.attributes,
  };
}

export function describeIndex(index: VectorIndex, modelLoaded: boolean) {
  const stats = index.stats();
  const builds = index.backgroundBuilds;
  return {
    name: index.name,
    object: 'index' as const,
    model: index.model,
    model_loaded: modelLoaded,
    count: stats.count,
    settings: {
      vector_storage: index.settings.storage,
      connectivity: index.settings.connectivity,
      expansion_add: index.settings.expansionAdd,
      expansion_search: index.settings.expansionSearch || null,
      exact_threshold: index.settings.exactThreshold,
    },
    search_expansion: describeExpansion(index),
    bytes: stats.bytes,
    filter_copies: { ...index.postingCopies, building: builds.copies, budget_bytes: index.tuning.copyBytesPerItem * stats.count },
    filter_graphs: { ...index.filterGraphStats, building: builds.graphs, budget_bytes: index.tuning.graphBytesPerItem * stats.count },
    created_at: index.createdAt,
  };
}

function describeExpansion(index: VectorIndex) {
  const { expansion, scan, source, targetRecall, measured } = index.expansionReport();
  return {
    expansion_search: expansion,
    exact_scan: scan,
    source,
    target_recall: targetRecall,
    measured: measured && {
      expansion_search: measured.expansion,
      recall: measured.recall,
      target_recall: measured.target,
      queries: measured.queries,
      items: measured.items,
      measured_at: measured.measuredAt,
      recall_by_expansion: measured.recallByExpansion.map((step) => ({ expansion_search: step.expansion, recall: step.recall, ms: step.ms })),
      scanned: measured.scanned,
      scan: measured.scan,
    },
  };
}

function describeItem(indexName: string, item: CatalogItem) {
  return {
    id: item.id,
    category: item.category,
    attributes: item.attributes,
    metadata: item.metadata,
    source_url: item.sourceUrl,
    text: item.text,
    source_kind: item.sourceKind,
    image_url: item.sourceBlob ? `/v1/indexes/${indexName}/items/${encodeURIComponent(item.id)}/image` : null,
    model: { id: item.modelId, version: item.modelVersion },
    created_at: item.createdAt,
    updated_at: item.updatedAt,
  };
}

/** Index management, items and search (`/v1/indexes/...`). */
export function indexesRouter(deps: { indexes: IndexService; upload: Upload; maxInputs: number; metrics: Pick<Metrics, 'indexSearches'> }) {
  const router = Router();
  const { indexes } = deps;
  const describe = (index: VectorIndex) => describeIndex(index, indexes.encoderFor(index) !== undefined);

  router.post('/v1/indexes', (req, res) => {
    const body = parseBody(createIndexRequest, req.body);
    const index = indexes.create(body.name, body.model, {
      ...(body.vector_storage && { storage: body.vector_storage }),
      ...(body.connectivity && { connectivity: body.connectivity }),
      ...(body.expansion_add && { expansionAdd: body.expansion_add }),
      ...(body.expansion_search && { expansionSearch: body.expansion_search }),
      ...(body.exact_threshold !== undefined && { exactThreshold: body.exact_threshold }),
    });
    res.status(201).json(describe(index));
  });

  router.get('/v1/indexes', (_req, res) => {
    res.json({ object: 'list', data: indexes.list().map(describe) });
  });

  router.get('/v1/indexes/:name', (req, res) => {
    res.json(describe(indexes.get(req.params.name)));
  });

  router.delete('/v1/indexes/:name', (req, res) => {
    indexes.delete(req.params.name);
    res.json({ name: req.params.name, deleted: true });
  });

  router.post('/v1/indexes/:name/items', async (req, res) => {
    const { items } = parseBody(itemsEnvelope, req.body);
    if (items.length > deps.maxInputs) {
      throw new ValidationError(`at most ${deps.maxInputs} items per request, got ${items.length}`, { param: 'items', code: 'too_many_inputs' });
    }
    // An unknown index is a 404 whatever the items (not a 200 of invalid items when none is valid).
    indexes.get(req.params.name);
    // Each item is validated on its own, so one bad item does not sink the batch.
    const parsed = items.map((raw, i) => parseItem(raw, `#${i}`));
    const valid = parsed.flatMap((entry) => (entry.ok ? [toNewItem(entry.item)] : []));
    const results = valid.length > 0 ? await indexes.addItems(req.params.name, valid, res.locals.signal) : [];
    let next = 0;
    const ordered = parsed.map((entry) =>
      entry.ok ? results[next++]! : { id: entry.id, status: 'error' as const, error: { code: 'invalid_item', message: entry.message } },
    );
    if (!res.headersSent) res.json({ results: ordered, succeeded: ordered.filter((r) => r.status === 'ok').length, failed: ordered.filter((r) => r.status === 'error').length });
  });

  router.post('/v1/indexes/:name/items/upload', deps.upload.array('file'), async (req: Request, res) => {
    const files = (req.files ?? []) as Express.Multer.File[];
    if (files.length === 0) throw new ValidationError('send image files in multipart fields named "file"', { param: 'file', code: 'missing_file' });
    const entries = parseBody(itemsUploadFields, req.body ?? {}).items ?? [];
    if (entries.length > 0 && entries.length !== files.length) {
      throw new ValidationError(`items describes ${entries.length} files, ${files.length} were sent`, { param: 'items', code: 'invalid_request' });
    }
    const newItems = files.map((file, i) => {
      const body = parseBody(itemSchema, { id: file.originalname, image: 'upload', ...entries[i] });
      return toNewItem(body, { kind: 'image-bytes', bytes: file.buffer });
    });
    const results = await indexes.addItems(req.params.name as string, newItems, res.locals.signal);
    if (!res.headersSent) res.json({ results, succeeded: results.filter((r) => r.status === 'ok').length, failed: results.filter((r) => r.status === 'error').length });
  });

  router.get('/v1/indexes/:name/items', (req, res) => {
    const index = indexes.get(req.params.name);
    const query = parseBody(itemsPageQuery, req.query);
    const items = index.list(query.limit, query.after);
    res.json({ object: 'list', data: items.map((item) => describeItem(index.name, item)), next_after: items.length === query.limit ? items.at(-1)!.id : null });
  });

  router.post('/v1/indexes/:name/compact', async (req, res) => {
    const started = performance.now();
    const report = await indexes.compact(req.params.name);
    const body: z.infer<typeof compactionResponse> = {
      object: 'compaction',
      index: req.params.name,
      moved_items: report.movedItems,
      reclaimed_bytes: report.reclaimedBytes,
      truncated_bytes: report.truncatedBytes,
      free_slots: report.freeSlots,
      free_bytes: report.freeBytes,
      file_bytes_before: report.fileBytesBefore,
      file_bytes_after: report.fileBytesAfter,
      took_ms: Math.round((performance.now() - started) * 1000) / 1000,
    };
    res.json(body);
  });

  router.get('/v1/indexes/:name/items/:id', (req, res) => {
    const item = indexes.get(req.params.name).get(req.params.id);
    if (!item) throw new NotFoundError('item_not_found', `index ${req.params.name} has no item ${JSON.stringify(req.params.id)}`);
    res.json(describeItem(req.params.name, item));
  });

  router.get('/v1/indexes/:name/items/:id/image', async (req, res) => {
    const bytes = await indexes.imageOf(req.params.name, req.params.id);
    // Content-addressed: the same item answers the same bytes until it is replaced.
    res.setHeader('Content-Type', sniffImageType(bytes));
    res.setHeader('Cache-Control', 'private, max-age=60');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    res.send(bytes);
  });

  router.delete('/v1/indexes/:name/items/:id', async (req, res) => {
    const deleted = await indexes.deleteItems(req.params.name, [req.params.id]);
    if (deleted.length === 0) throw new NotFoundError('item_not_found', `index ${req.params.name} has no item ${JSON.stringify(req.params.id)}`);
    res.json({ id: req.params.id, deleted: true });
  });

  router.post('/v1/indexes/:name/items/delete', async (req, res) => {
    const { ids } = parseBody(deleteItemsRequest, req.body);
    const deleted = await indexes.deleteItems(req.params.name, ids);
    const gone = new Set(deleted);
    res.json({ deleted, missing: ids.filter((id) => !gone.has(id)) });
  });

  const answer = async (name: string, query: Query, options: z.infer<z.ZodObject<typeof searchOptions>>, signal: AbortSignal) => {
    const outcome = await indexes.search(name, { ...options, query, filter: toFilter(options.filter), expansion: options.expansion_search }, signal);
    deps.metrics.indexSearches.inc({ strategy: outcome.strategy });
    return {
      object: 'list' as const,
      index: name,
      model: outcome.index.model,
      strategy: outcome.strategy,
      candidates: outcome.candidates,
      took_ms: Math.round(outcome.searchMs * 1000) / 1000,
      data: outcome.hits.map(describeHit),
    };
  };

  router.post('/v1/indexes/:name/search', async (req, res) => {
    const body = parseBody(searchRequest, req.body);
    const q = body.query;
    const query: Query =
      'text' in q ? { kind: 'text', text: q.text }
      : 'image' in q ? { kind: 'image', reference: q.image }
      : 'item_id' in q ? { kind: 'item', id: q.item_id }
      : { kind: 'vector', vector: q.vector, model: q.model, modelVersion: q.model_version };
    const result = await answer(req.params.name, query, body, res.locals.signal);
    if (!res.headersSent) res.json(result);
  });

  router.post('/v1/indexes/:name/search/upload', deps.upload.single('file'), async (req: Request, res) => {
    if (!req.file) throw new ValidationError('send the query image in a multipart field named "file"', { param: 'file', code: 'missing_file' });
    const fields = parseBody(searchUploadFields, req.body ?? {});
    const result = await answer(req.params.name as string, { kind: 'image-bytes', bytes: req.file.buffer }, fields, res.locals.signal);
    if (!res.headersSent) res.json(result);
  });

  return router;
}
