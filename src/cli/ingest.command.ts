import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { ApiError, type ApiClient, type JobView } from './api-client.js';
import { followJob, report } from './progress.js';

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

/** Uploads a folder's images, a request of `filesPerRequest` files at a time, ids = paths under the folder. */
async function uploadFolder(api: ApiClient, jobId: string, dir: string, options: IngestOptions, progress: { sent: number; total: number | undefined }) {
  let total = 0;
  for await (const _ of imageFiles(dir)) total += 1;
  progress.total = total;
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
    await api.request('POST', `/v1/jobs/${jobId}/items`, form);
    progress.sent += batch.length;
    batch = [];
  };
  for await (const path of imageFiles(dir)) {
    batch.push(path);
    if (batch.length >= options.filesPerRequest) await send();
  }
  if (batch.length > 0) await send();
}

/**
 * Streams a JSONL manifest up, `itemsPerRequest` items at a time. An `image` that names a file
 * beside the manifest is read and sent inline; URLs, data URIs and base64 go as they are.
 */
async function uploadManifest(api: ApiClient, jobId: string, file: string, options: IngestOptions, progress: { sent: number; total: number | undefined }) {
  const base = dirname(resolve(file));
  let total = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line.trim()) total += 1;
  progress.total = total;
  let batch: unknown[] = [];
  let bytes = 0;
  const send = async () => {
    await api.request('POST', `/v1/jobs/${jobId}/items`, { items: batch });
    progress.sent += batch.length;
    batch = [];
    bytes = 0;
  };
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch {
      item = line; // the server records it as an invalid item, with its reason
    }
    if (item && typeof item === 'object' && typeof (item as { image?: unknown }).image === 'string') {
      const image = (item as { image: string }).image;
      const local = resolve(base, image);
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
}

/** `lookbook ingest <dir|file.jsonl> --index NAME`: an open ingest job, streamed up in chunks, followed to its end. */
export async function ingestCommand(api: ApiClient, source: string, options: IngestOptions): Promise<number> {
  const info = await stat(source).catch(() => undefined);
  if (!info) throw new Error(`${source} does not exist`);
  await ensureIndex(api, options);
  const job = await api.request<JobView>('POST', '/v1/jobs', { type: 'ingest', index: options.index, open: true });
  process.stderr.write(`job ${job.id}: ingesting ${source} into ${options.index}\n`);
  const progress = { sent: 0, total: undefined as number | undefined };
  const following = options.wait ? followJob(api, job.id, { uploaded: () => progress }) : undefined;
  try {
    if (info.isDirectory()) await uploadFolder(api, job.id, source, options, progress);
    else await uploadManifest(api, job.id, source, options, progress);
    await api.request('POST', `/v1/jobs/${job.id}/close`);
  } catch (error) {
    await api.request('DELETE', `/v1/jobs/${job.id}`).catch(() => undefined);
    throw error;
  }
  if (!following) {
    process.stdout.write(`${job.id}\n`);
    return 0;
  }
  return report(api, await following);
}
