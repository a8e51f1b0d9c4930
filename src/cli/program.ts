import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { DataDirLockedError } from '../index/data-dir-lock.js';
import { createLogger } from '../logger.js';
import { startServer, StartupError, VERSION } from '../server.js';
import { generateApiKey, sha256Hex } from '../api/auth.js';
import { ApiClient, ApiError, type JobView } from './api-client.js';
import { ingestCommand } from './ingest.command.js';
import { followJob, report } from './progress.js';
import { runWorker } from './run-worker.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return n;
}

function config(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/** Runs until SIGTERM or SIGINT, then closes (a second signal exits at once). */
function untilSignal(close: () => Promise<void>, logger: ReturnType<typeof createLogger>): void {
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down: no new requests, finishing the ones in flight');
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

async function serve(): Promise<void> {
  const settings = config();
  const logger = createLogger(settings.logLevel);
  // Whatever stops the start (a model that cannot be read, a detector, the data directory) is one line and exit 1.
  const running = await startServer(settings, logger).catch((error: unknown) => {
    if (error instanceof StartupError || error instanceof DataDirLockedError) throw error;
    logger.debug({ err: error }, 'start-up failed');
    throw new StartupError(error instanceof Error ? error.message.split('\n')[0]! : String(error));
  });
  untilSignal(() => running.close(), logger);
}

/** The server the client commands talk to: --server, else LOOKBOOK_SERVER, else this host's LOOKBOOK_PORT. */
function client(options: { server?: string; apiKey?: string }): ApiClient {
  const server = options.server ?? process.env.LOOKBOOK_SERVER ?? `http://127.0.0.1:${process.env.LOOKBOOK_PORT ?? 8080}`;
  return new ApiClient(server.replace(/\/+$/, ''), options.apiKey ?? process.env.LOOKBOOK_API_KEY);
}

function describe(job: JobView): string {
  const { done, failed, total } = job.progress;
  const models = job.target_model ? ` ${job.source_model?.id}@${job.source_model?.version} → ${job.target_model.id}@${job.target_model.version}` : '';
  return `${job.id}  ${job.type.padEnd(7)} ${job.index.padEnd(16)} ${job.state.padEnd(9)} ${done}/${total} done, ${failed} failed${models}  ${job.created_at}`;
}

/**
 * Starts a job and, unless told not to wait, follows it to its end and reports it (setting the
 * exit code); without waiting it prints the job id. Resolves with the ended job when it waited.
 */
async function submitJob(api: ApiClient, body: Record<string, unknown>, options: { wait: boolean; label: string }, started?: (job: JobView) => void): Promise<JobView | undefined> {
  const job = await api.request<JobView>('POST', '/v1/jobs', body);
  started?.(job);
  if (!options.wait) {
    process.stdout.write(`${job.id}\n`);
    return undefined;
  }
  const done = await followJob(api, job.id, { label: options.label });
  process.exitCode = await report(api, done);
  return done;
}

/** The `lookbook` command line. With no command it serves, as `node dist/src/main.js` always has. */
export function program(): Command {
  const cli = new Command('lookbook').version(VERSION).description('Lookbook: multimodal visual search (server, workers and bulk jobs)');
  const serverOption = (command: Command) =>
    command
      .option('--server <url>', 'the Lookbook server (default: LOOKBOOK_SERVER, or http://127.0.0.1:$LOOKBOOK_PORT)')
      .option('--api-key <key>', 'API key (default: LOOKBOOK_API_KEY)');

  cli
    .command('serve', { isDefault: true })
    .description('run the API server (with an in-process worker unless LOOKBOOK_WORKER_CONCURRENCY=0); configured by LOOKBOOK_* variables')
    .action(serve);

  cli
    .command('worker')
    .description('run a worker: embeds job chunks from Redis and hands the vectors to the server that owns the indexes (no data directory needed)')
    .option('--server <url>', 'the owning server (default: LOOKBOOK_OWNER_URL)')
    .option('--concurrency <n>', 'chunks embedded at once', positiveInt)
    .option('--api-key <key>', 'API key for the owning server (default: LOOKBOOK_API_KEY)')
    .action(async (options: { server?: string; concurrency?: number; apiKey?: string }) => {
      const settings = config();
      const logger = createLogger(settings.logLevel);
      const key = options.apiKey ?? process.env.LOOKBOOK_API_KEY;
      const running = await runWorker(settings, logger, {
        ownerUrl: (options.server ?? settings.jobs.ownerUrl).replace(/\/+$/, ''),
        concurrency: options.concurrency ?? Math.max(settings.jobs.workerConcurrency, 1),
        headers: key ? { authorization: `Bearer ${key}` } : {},
      });
      untilSignal(() => running.close(), logger);
    });

  serverOption(
    cli
      .command('ingest')
      .argument('<source>', 'a folder of images (ids: paths under it) or a JSONL manifest (one item per line; local image paths are read and sent)')
      .requiredOption('--index <name>', 'the index (created when missing)')
      .option('--model <id>', 'model of a created index')
      .option('--category-from-folder', "use each image's first folder as its category")
      .option('--files-per-request <n>', 'images per upload request (each request makes at least one chunk; at most LOOKBOOK_MAX_FILES)', positiveInt, 64)
      .option('--items-per-request <n>', 'manifest items per request', positiveInt, 256)
      .option('--no-wait', 'print the job id and return instead of following it')
      .description('ingest a folder or a manifest as a background job, with live progress'),
  ).action(async (source: string, options) => {
    process.exitCode = await ingestCommand(client(options), source, options);
  });

  serverOption(
    cli
      .command('jobs')
      .argument('[id]', 'a job to show (default: list recent jobs)')
      .option('--follow', 'with an id: follow the job to its end')
      .option('--limit <n>', 'jobs to list', positiveInt, 20)
      .description('list jobs, or show one'),
  ).action(async (id: string | undefined, options) => {
    const api = client(options);
    if (!id) {
      const page = await api.request<{ data: JobView[] }>('GET', `/v1/jobs?limit=${options.limit}`);
      for (const job of page.data) process.stdout.write(`${describe(job)}\n`);
      if (page.data.length === 0) process.stdout.write('no jobs\n');
      return;
    }
    const job = options.follow ? await followJob(api, id) : await api.job(id);
    process.stdout.write(`${describe(job)}\n`);
    if (['completed', 'failed', 'cancelled'].includes(job.state)) process.exitCode = await report(api, job);
  });

  serverOption(
    cli
      .command('reembed')
      .requiredOption('--index <name>', 'the index to rebuild')
      .option('--model <id>', "the model to embed with (default: the index's own: a rebuild from the kept images)")
      .option('--model-version <v>', 'the model version')
      .option('--no-wait', 'print the job id and return instead of following it')
      .description('re-embed an index beside the serving version, then switch to it'),
  ).action(async (options) => {
    const body = { type: 'reembed', index: options.index, ...(options.model && { model: options.model }), ...(options.modelVersion && { model_version: options.modelVersion }) };
    await submitJob(client(options), body, { wait: options.wait, label: 're-embedded' }, (job) =>
      process.stderr.write(`job ${job.id}: re-embedding ${job.index} ${job.source_model?.id}@${job.source_model?.version} → ${job.target_model?.id}@${job.target_model?.version}\n`),
    );
  });

  const keys = cli.command('keys').description('API keys: the service knows only their SHA-256 (LOOKBOOK_API_KEYS)');
  keys
    .command('create')
    .argument('<id>', 'the key id (letters, digits, "_", "." and "-"), shown in logs')
    .option('--scopes <list>', 'read, write and/or admin, comma-separated', 'read')
    .option('--limit <budget>', "this key's own rate limit, e.g. 600/min")
    .description('make a new key: prints the key (give it to its user; it is not stored) and its LOOKBOOK_API_KEYS entry')
    .action((id: string, options: { scopes: string; limit?: string }) => {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) {
        process.stderr.write('lookbook keys create: the id is 1 to 64 letters, digits, "_", "." and "-"\n');
        process.exitCode = 2;
        return;
      }
      const scopes = options.scopes.split(',').map((scope) => scope.trim()).filter(Boolean);
      const entry = (key: string) => [id, scopes.join(','), sha256Hex(key), ...(options.limit ? [options.limit] : [])].join(':');
      const key = generateApiKey(id);
      // The entry must parse as the server will parse it.
      const problems = (() => {
        try {
          loadConfig({ LOOKBOOK_API_KEYS: entry(key) });
          return undefined;
        } catch (error) {
          return error instanceof ConfigError ? error.problems.join('; ') : String(error);
        }
      })();
      if (problems) {
        process.stderr.write(`lookbook keys create: ${problems}\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(`key:   ${key}\nentry: ${entry(key)}\n`);
    });
  keys
    .command('hash')
    .argument('<id>')
    .option('--scopes <list>', 'read, write and/or admin, comma-separated', 'read')
    .option('--limit <budget>', "this key's own rate limit, e.g. 600/min")
    .description('the LOOKBOOK_API_KEYS entry of an existing key, read from standard input')
    .action(async (id: string, options: { scopes: string; limit?: string }) => {
      let text = '';
      for await (const chunk of process.stdin) text += String(chunk);
      process.stdout.write(`${[id, options.scopes, sha256Hex(text.trim()), ...(options.limit ? [options.limit] : [])].join(':')}\n`);
    });

  const graph = cli.command('graph').description("an index's item graph (boards, pairs) for neighbor alignment");
  serverOption(
    graph
      .command('upload')
      .argument('<file>', 'JSON ({"boards": [{"id", "items"}], "pairs": [["a", "b", weight?]]}) or JSONL (a board {"id" or "board", "items"} or a pair per line)')
      .requiredOption('--index <name>', 'the index')
      .description("replace the index's graph"),
  ).action(async (file: string, options) => {
    const api = client(options);
    const text = readFileSync(file, 'utf8');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined; // JSONL: sent as a file
    }
    let summary: Record<string, unknown>;
    if (body && typeof body === 'object' && !Array.isArray(body)) summary = await api.request('POST', `/v1/indexes/${encodeURIComponent(options.index)}/graph`, body);
    else {
      const form = new FormData();
      form.append('graph', new Blob([text], { type: 'application/x-ndjson' }), 'graph.jsonl');
      summary = await api.request('POST', `/v1/indexes/${encodeURIComponent(options.index)}/graph`, form);
    }
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  });
  serverOption(graph.command('show').requiredOption('--index <name>', 'the index').description("the index's graph summary")).action(async (options) => {
    process.stdout.write(`${JSON.stringify(await client(options).request('GET', `/v1/indexes/${encodeURIComponent(options.index)}/graph`), null, 2)}\n`);
  });

  serverOption(
    cli
      .command('align')
      .requiredOption('--index <name>', 'the index whose graph to learn from')
      .option('--steps <n>', 'most training steps', positiveInt)
      .option('--rank <n>', "rank of the head's update", positiveInt)
      .option('--no-wait', 'print the job id and return instead of following it')
      .description('learn a neighbor-alignment head on the graph: a new model version (switch with `lookbook reembed --model-version`)'),
  ).action(async (options) => {
    const body = { type: 'align', index: options.index, ...(options.steps && { steps: options.steps }), ...(options.rank && { rank: options.rank }) };
    const done = await submitJob(client(options), body, { wait: options.wait, label: 'steps' });
    if (done?.result) process.stdout.write(`${JSON.stringify(done.result, null, 2)}\n`);
  });

  return cli;
}

/** Runs the command line; known failures print one line and exit non-zero. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await program().parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof StartupError || error instanceof DataDirLockedError) {
      process.stderr.write(`lookbook failed to start: ${error.message}\n`);
      process.exit(1);
    }
    if (error instanceof ApiError) {
      process.stderr.write(`lookbook: ${error.code}: ${error.message}\n`);
      process.exit(error.status === 0 ? 2 : 1);
    }
    process.stderr.write(`lookbook: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  }
}
