import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import type { JobRecord } from '../../queue/job-store.js';
import { isTerminal, JOB_TYPES } from '../../queue/job-types.js';
import type { UploadedImage } from '../../services/ingest.job.js';
import type { JobRequests } from '../../services/job-requests.js';
import type { Upload } from '../multipart.js';
import { removeStaged, stagedDocument } from '../staged-documents.js';
import { jsonObject } from '../schemas/common.js';
import { parseBody } from '../validation.js';
import { alignRequest, appendRequest, failuresQuery, ingestRequest, jobResponse, listQuery, multipartJobFields, reembedRequest } from '../schemas/jobs.js';

/** A job as the API shows it, with its rate and the time left. */
export function describeJob(job: JobRecord, now = Date.now()): z.infer<typeof jobResponse> {
  const processed = job.done + job.failed;
  const end = job.finishedAt ? Date.parse(job.finishedAt) : now;
  const seconds = job.startedAt ? Math.max((end - Date.parse(job.startedAt)) / 1000, 1e-3) : 0;
  const rate = seconds > 0 ? processed / seconds : 0;
  const params = job.params as { source?: { id: string; version: string }; target?: { id: string; version: string } };
  return {
    id: job.id,
    object: 'job',
    type: job.type,
    index: job.index,
    state: job.state,
    open: job.open,
    progress: { total: job.total, done: job.done, failed: job.failed },
    items_per_second: Math.round(rate * 10) / 10,
    eta_seconds: isTerminal(job.state) ? 0 : job.open || rate === 0 ? null : Math.ceil((job.total - processed) / rate),
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
    updated_at: job.updatedAt,
    ...(job.type === 'reembed' && params.source && params.target
      ? { source_model: { id: params.source.id, version: params.source.version }, target_model: { id: params.target.id, version: params.target.version } }
      : {}),
    result: job.result,
    error: job.error,
  };
}

/** Image files of a multipart request, with the item fields an `items` JSON field gives each. */
function uploadedImages(req: Request): UploadedImage[] | undefined {
  const files = ((req.files ?? []) as Express.Multer.File[]).filter((file) => file.fieldname === 'file');
  if (files.length === 0) return undefined;
  let described: unknown = [];
  if (req.body?.items !== undefined && req.body.items !== '') {
    try {
      described = JSON.parse(String(req.body.items));
    } catch {
      throw new ValidationError('items must be JSON: an array of item fields, one per file', { param: 'items', code: 'invalid_json' });
    }
  }
  const entries = parseBody(z.array(jsonObject), described);
  if (entries.length > 0 && entries.length !== files.length) {
    throw new ValidationError(`items describes ${entries.length} files, ${files.length} were sent`, { param: 'items', code: 'invalid_request' });
  }
  return files.map((file, i) => ({ bytes: file.buffer, filename: file.originalname, fields: entries[i] ?? {} }));
}

/** Sends Server-Sent Events of one job until it ends or the client leaves. */
function streamEvents(jobs: JobRequests, id: string, req: Request, res: Response, closers: Set<() => void>) {
  const first = jobs.service.get(id);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  let latest = first;
  const send = (job: JobRecord) => {
    sent = Date.now();
    res.write(`event: ${isTerminal(job.state) ? 'end' : 'progress'}\nid: ${job.updatedAt}\ndata: ${JSON.stringify(describeJob(job))}\n\n`);
  };
  const stop = () => {
    jobs.service.events.off('job', listener);
    clearInterval(heartbeat);
    clearTimeout(timer);
    closers.delete(stop);
    res.end();
  };
  // At most four updates a second; the last state is never dropped.
  const listener = (job: JobRecord) => {
    if (job.id !== id) return;
    latest = job;
    if (isTerminal(job.state)) {
      send(job);
      stop();
      return;
    }
    const wait = 250 - (Date.now() - sent);
    if (wait <= 0) send(job);
    else timer ??= setTimeout(() => {
      timer = undefined;
      send(latest);
    }, wait);
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  closers.add(stop);
  req.on('close', stop);
  send(first);
  if (isTerminal(first.state)) stop();
  else jobs.service.events.on('job', listener);
}

/** `/v1/jobs`: bulk ingest and re-embedding as background jobs. */
export function jobsRouter(deps: { jobs: JobRequests; upload: Upload; closers: Set<() => void> }) {
  const router = Router();
  const { jobs } = deps;
  const service = jobs.service;
  // Every job route needs the queue (Redis): without it they answer 503 queue_unavailable.
  router.use('/v1/jobs', (_req, _res, next) => {
    service.requireQueue();
    next();
  });

  const accepted = (res: Response, job: JobRecord) => {
    res.status(202).setHeader('Location', `/v1/jobs/${job.id}`).json(describeJob(job));
  };

  router.post('/v1/jobs', deps.upload.any(), async (req, res) => {
    let taken: string | undefined;
    try {
      const manifestPath = stagedDocument(req, 'manifest');
      await createJob(req, res, manifestPath);
      // The job took the manifest and deletes it once read; whatever else was staged goes now.
      taken = manifestPath;
    } finally {
      await removeStaged(req, taken);
    }
  });

  const createJob = async (req: Request, res: Response, manifestPath: string | undefined) => {
    if (req.is('multipart/form-data')) {
      const fields = parseBody(multipartJobFields, req.body);
      if (!manifestPath) throw new ValidationError('send the JSONL manifest in a multipart file field named "manifest"', { param: 'manifest', code: 'missing_file' });
      accepted(res, await jobs.submitIngest(fields.index, { manifestPath, open: fields.open }));
      return;
    }
    const type = (req.body as { type?: unknown } | undefined)?.type;
    if (type === 'align') {
      const body = parseBody(alignRequest, req.body);
      accepted(
        res,
        await jobs.submitAlign(body.index, {
          ...(body.rank !== undefined && { rank: body.rank }),
          ...(body.steps !== undefined && { steps: body.steps }),
          ...(body.batch !== undefined && { batch: body.batch }),
          ...(body.learning_rate !== undefined && { learningRate: body.learning_rate }),
          ...(body.temperature !== undefined && { temperature: body.temperature }),
          ...(body.holdout !== undefined && { holdout: body.holdout }),
          ...(body.text_weight !== undefined && { textWeight: body.text_weight }),
          ...(body.anchor_weight !== undefined && { anchorWeight: body.anchor_weight }),
          ...(body.evaluate_every !== undefined && { evaluateEvery: body.evaluate_every }),
          ...(body.patience !== undefined && { patience: body.patience }),
          ...(body.seed !== undefined && { seed: body.seed }),
        }),
      );
      return;
    }
    if (type === 'reembed') {
      const body = parseBody(reembedRequest, req.body);
      accepted(res, await jobs.submitReembed(body.index, body.model, body.model_version));
      return;
    }
    if (type !== 'ingest') {
      throw new ValidationError(`type must be one of ${JOB_TYPES.join(', ')}`, { param: 'type', code: 'invalid_request' });
    }
    const body = parseBody(ingestRequest, req.body);
    accepted(res, await jobs.submitIngest(body.index, { items: body.items, manifestUrl: body.manifest_url, open: body.open }));
  };

  router.get('/v1/jobs', (req, res) => {
    const query = parseBody(listQuery, req.query);
    const data = service.list({ limit: query.limit, before: query.before, index: query.index, states: query.state ? [query.state] : undefined });
    res.json({ object: 'list', data: data.map((job) => describeJob(job)), next_before: data.length === query.limit ? data.at(-1)!.id : null });
  });

  router.get('/v1/jobs/:id', (req, res) => {
    res.json(describeJob(service.get(req.params.id)));
  });

  router.delete('/v1/jobs/:id', async (req, res) => {
    res.json(describeJob(await service.cancel(req.params.id)));
  });

  router.get('/v1/jobs/:id/failures', (req, res) => {
    const query = parseBody(failuresQuery, req.query);
    const page = service.failures(req.params.id, query.limit, query.after);
    res.json({ object: 'list', data: page.items.map(({ id, code, message }) => ({ id, code, message })), next_after: page.next });
  });

  router.get('/v1/jobs/:id/events', (req, res) => {
    streamEvents(jobs, req.params.id, req, res, deps.closers);
  });

  router.post('/v1/jobs/:id/items', deps.upload.any(), async (req: Request, res) => {
    const id = req.params.id as string;
    try {
      if (req.is('multipart/form-data')) {
        const manifestPath = stagedDocument(req, 'manifest');
        const files = uploadedImages(req);
        if (!files && !manifestPath) throw new ValidationError('send image "file" fields or a JSONL "manifest"', { param: 'file', code: 'missing_file' });
        res.json(describeJob(await jobs.append(id, { files, manifestPath })));
        return;
      }
      const body = parseBody(appendRequest, req.body);
      res.json(describeJob(await jobs.append(id, { items: body.items })));
    } finally {
      // Appended items are taken in before the answer: nothing staged outlives the request.
      await removeStaged(req);
    }
  });

  router.post('/v1/jobs/:id/close', async (req, res) => {
    res.json(describeJob(await jobs.close(req.params.id)));
  });

  return router;
}
