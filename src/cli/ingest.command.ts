import { createReadStream, existsSync, type Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ApiError, type ApiClient, type JobView } from './api-client.js';
import { followJob, report, withRetries, type UnsentLines } from './progress.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff', '.svg', '.heic']);
const MEDIA_TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.gif': 'image/gif', '.avif': 'image/avif', '.tif': 'image/tiff', '.tiff': 'image/tiff', '.svg': 'image/svg+xml', '.heic': 'image/heic' };

export interface IngestOptions {
  readonly index: string;
  /** Create the index when it does not exist (with this model, or the default). */
  readonly model?: string | undefined;
  /** Category from each file's first folder under the directory. */
  readonly categoryFromFolder?: boolean | undefined;
  /** Files per upload request (the server takes at most LOOKBOOK_MAX_FILES). */
  readonly filesPerRequest: number;
  /** Manifest items per request. */
  readonly itemsPerRequest: number;
  readonly wait: boolean;
}

async function* imageFiles(dir: string): AsyncGenerator<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* imageFiles(path);
    else if (entry.isFile() && IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) yield path;
  }
}

async function ensureIndex(api: ApiClient, options: IngestOptions): Promise<void> {
  try {
    await api.request('GET', `/v1/indexes/${encodeURIComponent(options.index)}`);
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'index_not_found') throw error;
    await api.request('POST', '/v1/indexes', { name: options.index, ...(options.model && { model: options.model }) });
    process.stderr.write(`created index ${options.index}\n`);
  }
}

interface Upload {
  /** Items (or manifest lines) sent so far, of `total` when it is known up front. */
  readonly progress: { sent: number; total: number | undefined };
  /** Manifest lines that are not JSON: not sent, counted as failed. */
  readonly unsent: UnsentLines;
  /** Stops the upload between requests. */
  readonly signal: AbortSignal;
}

/** A request that was refused with 429 was not taken: it is safe to send again after a wait. */
const rateLimited = (error: unknown) => error instanceof ApiError && error.status === 429;

function appendItems(api: ApiClient, jobId: string, body: unknown, upload: Upload) {
  upload.signal.throwIfAborted();
  return withRetries(() => api.request('POST', `/v1/jobs/${jobId}/items`, body), { retryable: rateLimited, signal: upload.signal });
}

/** Uploads a folder's images, a request of `filesPerRequest` files at a time, ids = paths under the folder. */
async function uploadFolder(api: ApiClient, jobId: string, dir: string, options: IngestOptions, upload: Upload) {
  let total = 0;
  for await (const _ of imageFiles(dir)) total += 1;
  upload.progress.total = total;
  let batch: string[] = [];
  const send = async () => {
    const form = new FormData();
    const items = [];
    for (const path of batch) {
      const id = relative(dir, path).split(sep).join('/');
      form.append('file', new Blob([await readFile(path)], { type: MEDIA_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream' }), basename(path));
      const folder = id.includes('/') ? id.split('/')[0] : undefined;
      items.push({ id, ...(options.categoryFromFolder && folder && { category: folder }) });
    }
    form.append('items', JSON.stringify(items));
    await appendItems(api, jobId, form, upload);
    upload.progress.sent += batch.length;
    batch = [];
  };
  for await (const path of imageFiles(dir)) {
    batch.push(path);
    if (batch.length >= options.filesPerRequest) await send();
  }
  if (batch.length > 0) await send();
}

/** Where a manifest's lines come from: a file read twice (counted first), or a stream read once. */
interface ManifestSource {
  /** Opens the lines (a second call is allowed only for a regular file). */
  readonly open: () => Readable;
  /** Relative image paths are resolved against this folder. */
  readonly base: string;
  /** A regular file, so its lines can be counted before they are sent. */
  readonly countable: boolean;
}

/**
 * Sources read from standard input as it is: `/dev/stdin` cannot be opened when it is a socket
 * (ENXIO), as it is for a child process that Node started with `stdio: 'pipe'`.
 */
const STANDARD_INPUT = new Set(['-', '/dev/stdin']);

function manifestSource(source: string, info: Stats | undefined): ManifestSource {
  if (STANDARD_INPUT.has(source)) return { open: () => process.stdin, base: process.cwd(), countable: false };
  // A pipe (`/dev/stdin`, `<(…)`) is empty when read a second time.
  return { open: () => createReadStream(source), base: dirname(resolve(source)), countable: Boolean(info?.isFile()) };
}

/** The lines of a manifest, numbered from 1, without a leading UTF-8 byte order mark. */
async function* manifestLines(input: Readable): AsyncGenerator<{ line: string; lineNumber: number }> {
  let lineNumber = 0;
  for await (const raw of createInterface({ input, crlfDelay: Infinity })) {
    lineNumber += 1;
    yield { line: lineNumber === 1 && raw.startsWith('\uFEFF') ? raw.slice(1) : raw, lineNumber };
  }
}

/** The first words of a parse error, printable (a binary file given as a manifest makes odd ones). */
function parseErrorText(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/[^\x20-\x7e\u00a0-\uffff]/g, '?');
  return message.length > 120 ? `${message.slice(0, 119)}…` : message;
}

/**
 * Streams a JSONL manifest up, `itemsPerRequest` items at a time. An `image` that names a file
 * beside the manifest is read and sent inline; URLs, data URIs and base64 go as they are. A line
 * that is not JSON is not sent: it is counted and named by its line number.
 */
async function uploadManifest(api: ApiClient, jobId: string, manifest: ManifestSource, options: IngestOptions, upload: Upload) {
  if (manifest.countable) {
    let total = 0;
    for await (const { line } of manifestLines(manifest.open())) if (line.trim()) total += 1;
    upload.progress.total = total;
  }
  let batch: unknown[] = [];
  let bytes = 0;
  let unsentSinceLastRequest = 0;
  const send = async () => {
    await appendItems(api, jobId, { items: batch }, upload);
    upload.progress.sent += batch.length + unsentSinceLastRequest;
    batch = [];
    bytes = 0;
    unsentSinceLastRequest = 0;
  };
  for await (const { line, lineNumber } of manifestLines(manifest.open())) {
    if (!line.trim()) continue;
    upload.signal.throwIfAborted();
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch (error) {
      upload.unsent.count += 1;
      unsentSinceLastRequest += 1;
      if (upload.unsent.first.length < 10) upload.unsent.first.push(`line ${lineNumber}: not JSON: ${parseErrorText(error)}`);
      continue;
    }
    if (item && typeof item === 'object' && typeof (item as { image?: unknown }).image === 'string') {
      const image = (item as { image: string }).image;
      const local = resolve(manifest.base, image);
      if (!/^(https?:|data:)/i.test(image) && image.length < 4096 && existsSync(local) && (await stat(local)).isFile()) {
        const type = MEDIA_TYPES[extname(local).toLowerCase()] ?? 'application/octet-stream';
        item = { ...(item as object), image: `data:${type};base64,${(await readFile(local)).toString('base64')}` };
      }
    }
    batch.push(item);
    bytes += JSON.stringify(item).length;
    if (batch.length >= options.itemsPerRequest || bytes > 8 * 1024 * 1024) await send();
  }
  if (batch.length > 0) await send();
  upload.progress.sent += unsentSinceLastRequest;
}

/** Rejects with the signal's reason once it is aborted. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    else signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
  });
}

function errorText(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  // ApiClient parses every answer: a proxy's error page in front of the server is not JSON.
  if (error instanceof SyntaxError) return `the server's answer is not JSON (${parseErrorText(error)})`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * `lookbook ingest <dir|file.jsonl|-> --index NAME`: an open ingest job, streamed up in chunks,
 * followed to its end. Whatever stops it before the job is closed (Ctrl-C, a failure to send or to
 * follow) cancels the job, so none is left open. Returns the exit code.
 */
export async function ingestCommand(api: ApiClient, source: string, options: IngestOptions): Promise<number> {
  const stdin = STANDARD_INPUT.has(source);
  const info = stdin ? undefined : await stat(source).catch(() => undefined);
  if (!stdin && !info) throw new Error(`${source} does not exist`);
  await ensureIndex(api, options);
  const job = await api.request<JobView>('POST', '/v1/jobs', { type: 'ingest', index: options.index, open: true });
  process.stderr.write(`job ${job.id}: ingesting ${stdin ? 'standard input' : source} into ${options.index}\n`);
  const stop = new AbortController();
  const upload: Upload = { progress: { sent: 0, total: undefined }, unsent: { count: 0, first: [] }, signal: stop.signal };
  let open = true;
  let interrupted = false;
  const cancel = () => api.request('DELETE', `/v1/jobs/${job.id}`);
  const onInterrupt = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    stop.abort(new Error('interrupted')); // stops the progress bars first: the terminal gets its cursor back
    const outcome = open
      ? cancel().then(
          () => `interrupted: job ${job.id} cancelled`,
          (error: unknown) => `interrupted: job ${job.id} could not be cancelled (${errorText(error)}): DELETE /v1/jobs/${job.id}`,
        )
      : Promise.resolve(`interrupted: job ${job.id} goes on (lookbook jobs ${job.id} --follow)`);
    void outcome.then((line) => {
      process.stderr.write(`${line}\n`);
      process.exit(130);
    });
  };
  process.on('SIGINT', onInterrupt);
  try {
    const following = options.wait ? followJob(api, job.id, { uploaded: () => upload.progress, signal: stop.signal }) : undefined;
    // A poll that fails for good (after retries) stops the upload at once, and the job is cancelled.
    let followFailure: { error: unknown } | undefined;
    following?.catch((error: unknown) => {
      if (stop.signal.aborted) return;
      followFailure = { error };
      stop.abort(error);
    });
    const sending = (async () => {
      if (info?.isDirectory()) await uploadFolder(api, job.id, source, options, upload);
      else await uploadManifest(api, job.id, manifestSource(source, info), options, upload);
      stop.signal.throwIfAborted();
      await withRetries(() => api.request('POST', `/v1/jobs/${job.id}/close`), { retryable: rateLimited, signal: stop.signal });
      open = false;
    })();
    sending.catch(() => undefined); // an upload stopped half-way ends whenever its request does
    try {
      // Stopping does not wait for the request in flight: the job is cancelled at once.
      await Promise.race([sending, untilAborted(stop.signal)]);
    } catch (error) {
      if (interrupted) return await new Promise<never>(() => undefined); // the SIGINT handler cancels and exits
      stop.abort(error);
      const cancelled = await cancel().then(
        () => 'cancelled',
        () => 'could not be cancelled',
      );
      open = false;
      if (!followFailure) throw error;
      process.stderr.write(`lookbook: following job ${job.id} failed: ${errorText(followFailure.error)}; job ${job.id} ${cancelled}\n`);
      return 1;
    }
    if (!following) {
      printUnsent(upload.unsent);
      process.stdout.write(`${job.id}\n`);
      return upload.unsent.count > 0 && upload.progress.sent === upload.unsent.count ? 1 : 0;
    }
    let ended: JobView;
    try {
      ended = await following;
    } catch (error) {
      if (interrupted) return await new Promise<never>(() => undefined);
      process.stderr.write(`lookbook: following job ${job.id} failed: ${errorText(error)}; the job goes on (lookbook jobs ${job.id} --follow)\n`);
      return 1;
    }
    return await report(api, ended, { unsent: upload.unsent });
  } finally {
    if (!interrupted) process.removeListener('SIGINT', onInterrupt);
  }
}

function printUnsent(unsent: UnsentLines): void {
  for (const line of unsent.first) process.stderr.write(`${line}\n`);
  if (unsent.count > unsent.first.length) process.stderr.write(`… ${unsent.count - unsent.first.length} more lines not JSON\n`);
}
