import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, parseRateLimit, SCOPES, type Config } from '../config.js';
import { DataDirLockedError } from '../index/data-dir-lock.js';
import { createLogger } from '../logger.js';
import { startServer, StartupError, VERSION } from '../server.js';
import { generateApiKey, sha256Hex } from '../api/auth.js';
import { ApiClient, ApiError, apiKeyProblem, type JobView } from './api-client.js';
import { ingestCommand } from './ingest.command.js';
import { followJob, report } from './progress.js';
import { runWorker } from './run-worker.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return n;
}

/** A mistake in how the command was called (an argument, an option, a file): one line, exit 2. */
class UsageError extends Error {
  override name = 'UsageError';
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

/** `url` without trailing slashes; a UsageError naming `source` unless it is an http(s) URL. */
function serverUrl(url: string, source: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || !parsed.host) throw new UsageError(`${source} ${JSON.stringify(url)} is not an http(s) URL, e.g. http://127.0.0.1:8080`);
  return url.replace(/\/+$/, '');
}

/** The API key: --api-key, else LOOKBOOK_API_KEY; a UsageError when it cannot be sent in a header. */
function apiKey(options: { apiKey?: string }): string | undefined {
  const key = options.apiKey ?? process.env.LOOKBOOK_API_KEY;
  const problem = key ? apiKeyProblem(key) : undefined;
  if (problem) throw new UsageError(problem);
  return key || undefined;
}

/** LOOKBOOK_CLIENT_TIMEOUT_MS: how long the client commands wait for one answer (default 120 s). */
function clientTimeoutMs(): number | undefined {
  const text = process.env.LOOKBOOK_CLIENT_TIMEOUT_MS;
  if (text === undefined || text === '') return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 1) throw new UsageError(`LOOKBOOK_CLIENT_TIMEOUT_MS=${JSON.stringify(text)} is not a whole number of milliseconds`);
  return ms;
}

/** The server the client commands talk to: --server, else LOOKBOOK_SERVER, else this host's LOOKBOOK_PORT. */
function client(options: { server?: string; apiKey?: string }): ApiClient {
  const server =
    options.server !== undefined
      ? serverUrl(options.server, '--server')
      : process.env.LOOKBOOK_SERVER
        ? serverUrl(process.env.LOOKBOOK_SERVER, 'LOOKBOOK_SERVER')
        : serverUrl(`http://127.0.0.1:${process.env.LOOKBOOK_PORT || 8080}`, 'the server from LOOKBOOK_PORT');
  return new ApiClient(server, { apiKey: apiKey(options), timeoutMs: clientTimeoutMs() });
}

/** The text of a file the command was given; a UsageError saying why it cannot be read. */
function readArgumentFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory, not a file' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${(error as Error).message})`;
    throw new UsageError(`${file} ${reason}`);
  }
}

/** The JSON value of `text`, or the parser's reason (on one line) when it is not JSON. */
function parseJson(text: string): { value: unknown } | { reason: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    // V8 quotes the text around the fault ('Unexpected token ']', ..."a",]}\n]" is not valid JSON'): the quote can span lines.
    return { reason: (error as Error).message.split(/, (?:\.\.\.)?"/)[0]!.replace(/\s+/g, ' ') };
  }
}

/**
 * How `graph upload` sends a file: the JSON form (an object with "boards" and/or "pairs") as a
 * JSON body, anything else as JSONL (a board or a pair per line), which the server checks line
 * by line. A one-line JSONL file is a whole JSON value too, so the keys decide, not the parse;
 * a `.jsonl` or `.ndjson` name always means JSONL.
 */
function graphUploadBody(file: string, text: string): { json: Record<string, unknown> } | { jsonl: string } {
  const content = text.replace(/^\uFEFF/, '');
  if (content.trim() === '') throw new UsageError(`${file} is empty: give boards or pairs`);
  if (['.jsonl', '.ndjson'].includes(extname(file).toLowerCase())) return { jsonl: content };
  const whole = parseJson(content);
  if ('value' in whole) {
    const value = whole.value;
    if (value && typeof value === 'object' && !Array.isArray(value) && ('boards' in value || 'pairs' in value)) return { json: value as Record<string, unknown> };
    // One line: a single board or pair, as JSONL.
    if (!content.trim().includes('\n')) return { jsonl: content };
    throw new UsageError(`${file} is JSON but not a graph: the JSON form is an object with "boards" and/or "pairs"; JSONL has one board or pair per line`);
  }
  const firstLine = content.split('\n').find((line) => line.trim() !== '')!;
  if ('value' in parseJson(firstLine)) return { jsonl: content };
  throw new UsageError(`${file} is neither JSON (${whole.reason}) nor JSONL (its first line is not JSON)`);
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

/**
 * The LOOKBOOK_API_KEYS entry maker for `keys create` and `keys hash`, after checking the id,
 * scopes and limit as the server will (so nothing is generated for an entry it would refuse);
 * undefined, with the reason on standard error and exit code 2, when one is wrong.
 */
function keyEntry(command: string, id: string, options: { scopes: string; limit?: string }): ((key: string) => string) | undefined {
  const refuse = (reason: string) => {
    process.stderr.write(`lookbook keys ${command}: ${reason}\n`);
    process.exitCode = 2;
    return undefined;
  };
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(id)) return refuse('the id is 1 to 64 letters, digits, "_", "." and "-"');
  const named = options.scopes.split(',').map((scope) => scope.trim()).filter(Boolean);
  const unknown = named.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
  if (named.length === 0 || unknown.length > 0) return refuse(`--scopes ${JSON.stringify(options.scopes)}: ${unknown.length > 0 ? `unknown scope ${unknown.join(', ')}; ` : ''}give read, write and/or admin, comma-separated`);
  const scopes = [...new Set(named)];
  const limit = options.limit?.replace(/\s+/g, '');
  if (limit !== undefined && !parseRateLimit(limit)) return refuse(`--limit ${JSON.stringify(options.limit)}: a budget like 100/s, 600/min, 5000/h or 20000/day`);
  const entry = (key: string) => [id, scopes.join(','), sha256Hex(key), ...(limit ? [limit] : [])].join(':');
  // The entry must parse as the server will parse it (checked with a stand-in hash: no key is made yet).
  try {
    loadConfig({ LOOKBOOK_API_KEYS: entry('') });
  } catch (error) {
    return refuse(error instanceof ConfigError ? error.problems.join('; ') : String(error));
  }
  return entry;
}

/** The `lookbook` command line. With no command it serves, as `node dist/src/main.js` always has. */
export function program(): Command {
  const cli = new Command('lookbook').version(VERSION).description('Lookbook: multimodal visual search (server, workers and bulk jobs)');
  const serverOption = (command: Command) =>
    command
      .option('--server <url>', 'the Lookbook server (default: LOOKBOOK_SERVER, or http://127.0.0.1:$LOOKBOOK_PORT)')
      .option('--api-key <key>', 'API key (default: LOOKBOOK_API_KEY)');

  // `lookbook` alone serves; a word that is no command is refused as one (a default command
  // would take it as its argument and say "too many arguments for 'serve'").
  cli.allowExcessArguments().action(async () => {
    if (cli.args.length > 0) cli.error(`error: unknown command '${cli.args[0]}' (see lookbook --help)`, { code: 'commander.unknownCommand' });
    await serve();
  });
  cli
    .command('serve')
    .description('run the API server (with an in-process worker unless LOOKBOOK_WORKER_CONCURRENCY=0), as `lookbook` alone does; configured by LOOKBOOK_* variables')
    .action(serve);

  cli
    .command('worker')
    .description('run a worker: embeds job chunks from Redis and hands the vectors to the server that owns the indexes (no data directory needed)')
    .option('--server <url>', 'the owning server (default: LOOKBOOK_OWNER_URL)')
    .option('--concurrency <n>', 'chunks embedded at once', positiveInt)
    .option('--api-key <key>', 'API key for the owning server (default: LOOKBOOK_API_KEY)')
    .action(async (options: { server?: string; concurrency?: number; apiKey?: string }) => {
      const settings = config();
      // Checked before anything starts: a bad URL or key would otherwise fail every retry for ever.
      const ownerUrl = options.server !== undefined ? serverUrl(options.server, '--server') : settings.jobs.ownerUrl;
      const key = apiKey(options);
      const logger = createLogger(settings.logLevel);
      const running = await runWorker(settings, logger, {
        ownerUrl,
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
    if (options.follow && !id) throw new UsageError('--follow needs a job id (lookbook jobs <id> --follow)');
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
      const entry = keyEntry('create', id, options);
      if (!entry) return;
      const key = generateApiKey(id);
      process.stdout.write(`key:   ${key}\nentry: ${entry(key)}\n`);
    });
  keys
    .command('hash')
    .argument('<id>', 'the key id (letters, digits, "_", "." and "-"), shown in logs')
    .option('--scopes <list>', 'read, write and/or admin, comma-separated', 'read')
    .option('--limit <budget>', "this key's own rate limit, e.g. 600/min")
    .description('the LOOKBOOK_API_KEYS entry of an existing key, read from standard input')
    .action(async (id: string, options: { scopes: string; limit?: string }) => {
      const entry = keyEntry('hash', id, options);
      if (!entry) return;
      let text = '';
      for await (const chunk of process.stdin) text += String(chunk);
      const key = text.trim();
      if (!key) {
        process.stderr.write('lookbook keys hash: no key on standard input (echo "$KEY" | lookbook keys hash <id>)\n');
        process.exitCode = 2;
        return;
      }
      process.stdout.write(`${entry(key)}\n`);
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
    const body = graphUploadBody(file, readArgumentFile(file));
    let summary: Record<string, unknown>;
    if ('json' in body) summary = await api.request('POST', `/v1/indexes/${encodeURIComponent(options.index)}/graph`, body.json);
    else {
      const form = new FormData();
      form.append('graph', new Blob([body.jsonl], { type: 'application/x-ndjson' }), 'graph.jsonl');
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
    if (error instanceof UsageError) {
      process.stderr.write(`lookbook: ${error.message}\n`);
      process.exit(2);
    }
    // Anything else is one line too; its stack only when asked for (LOOKBOOK_LOG_LEVEL=debug or trace).
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`lookbook: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (['debug', 'trace'].includes(process.env.LOOKBOOK_LOG_LEVEL ?? '') && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  }
}
