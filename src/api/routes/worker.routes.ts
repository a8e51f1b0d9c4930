import express, { Router } from 'express';
import { AppError, NotFoundError, ValidationError } from '../../errors.js';
import { isBlobHash } from '../../index/blob-store.js';
import { vectorFromBase64 } from '../../queue/owner-client.js';
import type { JobService } from '../../services/jobs.service.js';
import { parseBody } from '../validation.js';
import { chunkResultsRequest } from '../schemas/jobs.js';

/**
 * `/v1/worker/...`: what separate `lookbook worker` processes call on the process that owns the
 * indexes (they have no data directory): a chunk's work, kept images, fetched images to keep, and
 * a chunk's vectors to apply. The in-process worker calls the same service directly.
 */
export function workerRouter(deps: { jobs: JobService; maxImageBytes: number; jsonLimitBytes: number }) {
  const router = Router();
  const { jobs } = deps;
  const chunkOf = (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new ValidationError('the chunk number must be a whole number', { param: 'chunk' });
    return n;
  };

  router.get('/v1/worker/jobs/:id/chunks/:chunk', async (req, res) => {
    jobs.get(req.params.id);
    res.json(await jobs.fetchChunk(req.params.id, chunkOf(req.params.chunk)));
  });

  router.post('/v1/worker/jobs/:id/chunks/:chunk/results', async (req, res) => {
    jobs.get(req.params.id);
    const body = parseBody(chunkResultsRequest, req.body);
    const vectors = body.vectors.map((entry, i) => {
      try {
        return { pos: entry.pos, vector: vectorFromBase64(entry.vector), blob: entry.blob };
      } catch (error) {
        throw error instanceof AppError ? error.about(`vectors[${i}].vector`) : error;
      }
    });
    res.json(await jobs.submitResults(req.params.id, chunkOf(req.params.chunk), { ...body, vectors }));
  });

  router.post(
    '/v1/worker/jobs/:id/blobs',
    express.raw({ type: () => true, limit: deps.maxImageBytes }),
    async (req, res) => {
      if (!Buffer.isBuffer(req.body) || req.body.length === 0) throw new ValidationError('send the image bytes as the body', { code: 'empty_body' });
      res.status(201).json({ hash: await jobs.keepImage(req.params.id as string, req.body) });
    },
  );

  router.get('/v1/worker/blobs/:hash', async (req, res) => {
    const bytes = isBlobHash(req.params.hash) ? await jobs.readBlob(req.params.hash) : undefined;
    if (!bytes) throw new NotFoundError('blob_not_found', `no kept image ${JSON.stringify(req.params.hash)}`, { param: 'hash' });
    res.setHeader('Content-Type', 'application/octet-stream');
    res.send(Buffer.from(bytes));
  });

  return router;
}
