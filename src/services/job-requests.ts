import { rm } from 'node:fs/promises';
import { ConflictError, FetchError } from '../errors.js';
import type { JobRecord } from '../queue/job-store.js';
import { isTerminal } from '../queue/job-types.js';
import type { AlignmentOptions } from '../alignment/trainer.js';
import type { GraphStore } from '../index/graph-store.js';
import { AlignJob } from './align.job.js';
import { IngestJob, type UploadedImage } from './ingest.job.js';
import { JobService, type JobServiceDeps } from './jobs.service.js';
import { ReembedJob } from './reembed.job.js';

/** What can be appended to an open ingest job, or start one. */
export interface IngestInput {
  /** Item objects, as `POST /v1/indexes/{name}/items` takes them. */
  readonly items?: readonly unknown[] | undefined;
  /** A JSONL manifest staged on disk (deleted once read). */
  readonly manifestPath?: string | undefined;
  /** Image files with their item fields. */
  readonly files?: readonly UploadedImage[] | undefined;
}

/**
 * The job use cases the HTTP API and the CLI call: start an ingest (inline items, a manifest
 * upload or URL, or an open job that chunks are appended to), append and close, start a
 * re-embedding. Built with the job service and its one handler per job type.
 */
export class JobRequests {
  readonly service: JobService;
  readonly ingest: IngestJob;
  readonly reembed: ReembedJob;

  readonly align: AlignJob;

  constructor(deps: JobServiceDeps & { graphs: GraphStore }) {
    this.service = new JobService(deps);
    this.ingest = new IngestJob(this.service);
    this.reembed = new ReembedJob(this.service);
    this.align = new AlignJob(this.service, deps.graphs);
    this.service.register([this.ingest, this.reembed, this.align]);
    deps.indexes.onDeleted((name) => {
      this.service.onIndexDeleted(name).catch((error: unknown) => deps.logger.error({ err: error, index: name }, 'could not end the jobs of a deleted index'));
    });
  }

  /** Recovers jobs after a restart and starts the finishing worker. */
  start(): Promise<void> {
    return this.service.start({ adopt: (job) => (job.type === 'reembed' ? this.reembed.adopt(job) : 'resume') });
  }

  /**
   * Starts an ingest into `index`. Inline items are taken in before this returns; a manifest
   * (uploaded or at a URL) is read after it, while the job shows `queued`. An `open` job takes
   * appended chunks until it is closed.
   */
  async submitIngest(index: string, input: IngestInput & { manifestUrl?: string | undefined; open?: boolean | undefined }): Promise<JobRecord> {
    let handedOver = false; // the background step deletes a staged manifest once it has read it
    try {
      this.service.deps.indexes.get(index);
      if (input.manifestUrl !== undefined && !this.service.deps.images.fetcher) {
        throw new FetchError('url_fetch_disabled', 'fetching URLs is disabled on this server (LOOKBOOK_FETCH_ENABLED=false); upload the manifest');
      }
      const background = input.manifestPath !== undefined || input.manifestUrl !== undefined;
      const job = await this.service.create('ingest', index, { source: this.describeSource(input), ...(background && { preparing: true }) }, { open: true });
      if (background) {
        handedOver = true;
        this.service.runInBackground(job, async (signal) => {
          let path = input.manifestPath;
          if (input.manifestUrl !== undefined) {
            path = await this.service.deps.files.stagingPath(job.id, 'manifest.jsonl');
            const settings = this.service.deps.settings;
            const limits = { maxBytes: settings.manifestMaxBytes, timeoutMs: settings.manifestTimeoutMs ?? 10 * 60_000 };
            await this.service.deps.images.fetcher!.fetchToFile(input.manifestUrl, path, limits, signal);
          }
          await this.take(job, { manifestPath: path }, { fetchedFrom: input.manifestUrl });
          const current = this.service.deps.store.get(job.id)!;
          if (isTerminal(current.state)) return;
          this.service.update(job.id, { params: { ...current.params, preparing: false } });
          if (!input.open) await this.service.seal(job.id);
        });
        return job;
      }
      await this.take(job, input);
      return input.open ? this.service.get(job.id) : await this.service.seal(job.id);
    } finally {
      if (!handedOver && input.manifestPath !== undefined) await rm(input.manifestPath, { force: true });
    }
  }

  private describeSource(input: IngestInput & { manifestUrl?: string | undefined; open?: boolean | undefined }): string {
    if (input.manifestUrl !== undefined) return 'manifest_url';
    if (input.manifestPath !== undefined) return 'manifest_upload';
    if (input.files !== undefined) return 'upload';
    return input.open ? 'stream' : 'inline';
  }

  /** Takes input into a job, a chunk at a time; a staged manifest is deleted once read. */
  private async take(job: JobRecord, input: IngestInput, manifest: { fetchedFrom?: string | undefined } = {}): Promise<void> {
    const intake = this.ingest.intake(job);
    try {
      for (const [i, raw] of (input.items ?? []).entries()) await intake.add(raw, `#${job.total + i}`);
      for (const file of input.files ?? []) await intake.addFile(file);
      if (input.manifestPath !== undefined) await intake.addManifest(input.manifestPath, manifest);
      await intake.flush();
    } finally {
      if (input.manifestPath !== undefined) await rm(input.manifestPath, { force: true });
    }
  }

  /** Appends items to an open ingest job. */
  async append(id: string, input: IngestInput): Promise<JobRecord> {
    try {
      const job = this.requireOpen(id);
      await this.take(job, input);
      return this.service.get(id);
    } finally {
      if (input.manifestPath !== undefined) await rm(input.manifestPath, { force: true });
    }
  }

  /** Closes an open ingest job: it completes once the chunks it has are done. */
  async close(id: string): Promise<JobRecord> {
    this.requireOpen(id);
    return this.service.seal(id);
  }

  private requireOpen(id: string): JobRecord {
    const job = this.service.get(id);
    this.service.requireQueue();
    if (job.type !== 'ingest' || !job.open || isTerminal(job.state) || job.params.preparing === true) {
      throw new ConflictError('job_not_open', `job ${id} does not take more items (${isTerminal(job.state) ? job.state : job.type !== 'ingest' ? `a ${job.type} job` : job.params.preparing === true ? 'its manifest is being read' : 'closed'})`, {
        param: 'id',
      });
    }
    return job;
  }

  /**
   * Starts learning an alignment head on `index`'s graph; the job's result names the new model
   * version (the index switches to it with a reembed).
   */
  async submitAlign(index: string, options: Partial<AlignmentOptions>): Promise<JobRecord> {
    const plan = this.align.plan(index, options);
    const job = await this.service.create('align', index, { ...plan }, { open: false });
    await this.service.seal(job.id);
    return this.service.get(job.id);
  }

  /** Starts re-embedding `index` with a model (default: the one it holds), beside the serving version. */
  async submitReembed(index: string, model: string | undefined, modelVersion: string | undefined): Promise<JobRecord> {
    const plan = this.reembed.plan(index, model, modelVersion);
    const job = await this.service.create('reembed', index, { ...plan, preparing: true }, { open: true });
    this.service.runInBackground(job, () => this.reembed.prepare(job));
    return job;
  }
}
