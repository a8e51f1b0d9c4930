import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startJobServer, type JobServer } from './helpers/jobs.js';
import { listenLocal } from './helpers/http-server.js';
import { gradientJpeg } from './helpers/images.js';

const children = new Set<ChildProcess>();
let server: JobServer;
let folder: string;

beforeAll(async () => {
  if (!existsSync('dist/src/main.js')) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
  server = await startJobServer();
  folder = mkdtempSync(join(tmpdir(), 'lookbook-cli-'));
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await server?.close();
});

const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

/**
 * `node dist/src/main.js …args`, on a terminal (run by `script`) or in a bash command line that
 * `bash` makes of the quoted one; resolves its exit code.
 */
function lookbook(args: string[], options: { stdin?: string; terminal?: boolean; bash?: (cli: string) => string } = {}) {
  const cli = [process.execPath, 'dist/src/main.js', ...args];
  const child = options.terminal
    ? spawn('script', ['-qfec', cli.map(quote).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : options.bash
      ? spawn('bash', ['-c', options.bash(cli.map(quote).join(' '))], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(cli[0]!, cli.slice(1), { stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  children.add(child);
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  let stdout = '';
  let stderr = '';
  const seen: Array<() => void> = [];
  const watch = () => seen.forEach((check) => check());
  child.stdout!.on('data', (chunk) => ((stdout += chunk), watch()));
  child.stderr!.on('data', (chunk) => ((stderr += chunk), watch()));
  const exited = new Promise<number | null>((resolve) =>
    // 'close', not 'exit': the output the process wrote last may still be on its way at 'exit'.
    child.once('close', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  /** Resolves once the output so far contains `text`. */
  const printed = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (stdout + stderr).includes(text) && resolve();
      seen.push(check);
      check();
      void exited.then(() => reject(new Error(`exited before printing ${JSON.stringify(text)}: ${stdout}${stderr}`)));
    });
  return { child, exited, printed, output: () => ({ stdout, stderr }) };
}

function manifest(name: string, text: string | Buffer): string {
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

const items = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => JSON.stringify({ id: `${prefix}-${i}`, text: `a wool scarf ${i}` }));

/**
 * A proxy in front of the test server: `intercept` answers a request itself (or holds it) by
 * returning true; everything else is forwarded.
 */
async function proxy(intercept: (req: IncomingMessage, res: ServerResponse) => boolean) {
  return listenLocal((req, res) => {
    if (intercept(req, res)) return;
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      if (req.headers['content-type']) headers['content-type'] = req.headers['content-type'];
      void fetch(`${server.url}${req.url}`, { method: req.method, headers, body: body.length > 0 ? Buffer.concat(body) : undefined }).then(async (answer) => {
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await answer.arrayBuffer()));
      });
    });
  });
}

const isPoll = (req: IncomingMessage) => req.method === 'GET' && /^\/v1\/jobs\/[^/?]+$/.test(req.url ?? '');
const isUpload = (req: IncomingMessage) => req.method === 'POST' && /^\/v1\/jobs\/[^/]+\/items$/.test(req.url ?? '');
const jobIdOf = (stderr: string) => /job (job_[^:\s]+):/.exec(stderr)?.[1];

describe('lookbook ingest', () => {
  it('reads a manifest from a pipe once: `-`, /dev/stdin and <(…) ingest every line', async () => {
    const piped = (index: string) => manifest(`${index}.jsonl`, `${items(index, 5).join('\n')}\n`);
    const runs = {
      'piped-dev': () => lookbook(['ingest', '/dev/stdin', '--index', 'piped-dev', '--server', server.url, '--items-per-request', '2'], { bash: (cli) => `cat ${quote(piped('piped-dev'))} | ${cli}` }),
      'piped-fd': () => lookbook(['ingest', 'SOURCE', '--index', 'piped-fd', '--server', server.url, '--items-per-request', '2'], { bash: (cli) => cli.replace(`'SOURCE'`, `<(cat ${quote(piped('piped-fd'))})`) }),
      'piped-dash': () => lookbook(['ingest', '-', '--index', 'piped-dash', '--server', server.url, '--items-per-request', '2'], { stdin: `${items('piped-dash', 5).join('\n')}\n` }),
    };
    for (const [index, start] of Object.entries(runs)) {
      const run = start();
      expect(await run.exited, run.output().stderr).toBe(0);
      expect(run.output().stdout).toMatch(/completed: 5 done, 0 failed of 5/);
      expect((await api(server.url, 'GET', `/v1/indexes/${index}`)).json.count).toBe(5);
    }
  });

  it('skips a byte order mark and names a line that is not JSON by its number, without losing the others', async () => {
    const lines = items('bom', 3);
    const path = manifest('bom.jsonl', `\uFEFF${lines[0]}\r\n${lines[1]}\r\n{"id": "broken", \r\n${lines[2]}\r\n`);
    const run = lookbook(['ingest', path, '--index', 'bom', '--server', server.url]);
    expect(await run.exited).toBe(0);
    const { stdout } = run.output();
    expect(stdout).toMatch(/completed: 3 done, 0 failed of 3, 1 manifest line not JSON/);
    expect(stdout).toMatch(/line 3: not JSON: /);
    expect(stdout).not.toContain('expected object');
    expect((await api(server.url, 'GET', '/v1/indexes/bom/items/bom-0')).status).toBe(200);
  });

  it('exits 1 when nothing was ingested and something failed, 0 when only some items failed', async () => {
    const png = manifest('photo.png', await gradientJpeg(40, 30, 3));
    const text = manifest('notes.txt', 'hello\nworld\n');
    const invalid = manifest('invalid.jsonl', `${JSON.stringify({ id: 'nothing-to-embed' })}\n`);
    for (const path of [png, text, invalid]) {
      const run = lookbook(['ingest', path, '--index', 'failing', '--server', server.url]);
      expect(await run.exited, `${path}: ${run.output().stdout}`).toBe(1);
      expect(run.output().stdout).toMatch(/completed: 0 done/);
    }
    const partly = manifest('partly.jsonl', [...items('partly', 2), JSON.stringify({ id: 'nothing-to-embed' })].join('\n'));
    const run = lookbook(['ingest', partly, '--index', 'failing', '--server', server.url]);
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toMatch(/completed: 2 done, 1 failed of 3/);
  });

  it('follows through polls answered 429 and 502, trying them again', async () => {
    let polls = 0;
    const front = await proxy((req, res) => {
      if (!isPoll(req) || ++polls > 3) return false;
      if (polls < 3) res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ error: { code: 'rate_limited', message: 'over budget' } }));
      else res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');
      return true;
    });
    try {
      const run = lookbook(['ingest', manifest('retried.jsonl', items('retried', 3).join('\n')), '--index', 'retried', '--server', front.origin]);
      expect(await run.exited, run.output().stderr).toBe(0);
      expect(polls).toBeGreaterThan(3);
      expect(run.output().stdout).toMatch(/completed: 3 done, 0 failed of 3/);
      expect(run.output().stderr).not.toMatch(/\n\s+at /);
    } finally {
      await front.close();
    }
  });

  it('cancels the job with one line when following it fails for good while uploading', async () => {
    let deleted: () => void;
    const cancelled = new Promise<void>((resolve) => (deleted = resolve));
    let forward: (req: IncomingMessage, res: ServerResponse) => boolean = () => false;
    const front = await proxy((req, res) => {
      if (req.method === 'DELETE') deleted();
      // The upload is answered only once the job is cancelled: the poll fails while the job is open.
      if (isUpload(req)) return (void cancelled.then(() => forward(req, res)), true);
      if (!isPoll(req)) return false;
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'forbidden', message: 'this key may not read jobs' } }));
      return true;
    });
    forward = (_req, res) => (res.writeHead(409, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'job_not_open', message: 'cancelled' } })), true);
    try {
      const run = lookbook(['ingest', manifest('fatal.jsonl', items('fatal', 3).join('\n')), '--index', 'fatal', '--server', front.origin]);
      expect(await run.exited).toBe(1);
      const { stderr } = run.output();
      expect(stderr).toMatch(/^lookbook: following job job_\S+ failed: forbidden: this key may not read jobs; job job_\S+ cancelled$/m);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect((await api(server.url, 'GET', `/v1/jobs/${jobIdOf(stderr)}`)).json.state).toBe('cancelled');
    } finally {
      await front.close();
    }
  });

  it('on Ctrl-C while uploading cancels the job, says so and exits 130', async () => {
    let uploading: () => void;
    const upload = new Promise<void>((resolve) => (uploading = resolve));
    // The upload is never answered: the CLI is mid-upload when interrupted.
    const front = await proxy((req) => isUpload(req) && (uploading(), true));
    try {
      const run = lookbook(['ingest', manifest('interrupted.jsonl', items('interrupted', 3).join('\n')), '--index', 'interrupted', '--server', front.origin]);
      await upload;
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(130);
      const { stderr } = run.output();
      const id = jobIdOf(stderr);
      expect(stderr).toContain(`interrupted: job ${id} cancelled`);
      expect((await api(server.url, 'GET', `/v1/jobs/${id}`)).json.state).toBe('cancelled');
    } finally {
      await front.close();
    }
  });
});

describe('progress bars on a terminal', () => {
  const HIDE = '\u001b[?25l';
  const SHOW = '\u001b[?25h';

  it('give the cursor back on Ctrl-C during `jobs --follow`', async () => {
    await api(server.url, 'POST', '/v1/indexes', { name: 'followed' });
    const opened = await api(server.url, 'POST', '/v1/jobs', { type: 'ingest', index: 'followed', open: true });
    const run = lookbook(['jobs', opened.json.id, '--follow', '--server', server.url], { terminal: true });
    // A bar drawn, not just the cursor hidden: the CLI listens for Ctrl-C by then.
    await run.printed('indexed ');
    run.child.stdin!.write('\u0003');
    expect(await run.exited).toBe(130);
    const { stdout } = run.output();
    expect(stdout.lastIndexOf(SHOW), JSON.stringify(stdout)).toBeGreaterThan(stdout.lastIndexOf(HIDE));
    await api(server.url, 'DELETE', `/v1/jobs/${opened.json.id}`);
  });

  it('give the cursor back on Ctrl-C during `ingest`, which cancels its job', async () => {
    let uploading: () => void;
    const upload = new Promise<void>((resolve) => (uploading = resolve));
    const front = await proxy((req) => isUpload(req) && (uploading(), true));
    try {
      const run = lookbook(['ingest', manifest('terminal.jsonl', items('terminal', 3).join('\n')), '--index', 'terminal', '--server', front.origin], { terminal: true });
      await Promise.all([upload, run.printed('indexed ')]);
      run.child.stdin!.write('\u0003');
      expect(await run.exited).toBe(130);
      const { stdout } = run.output();
      expect(stdout.lastIndexOf(SHOW), JSON.stringify(stdout)).toBeGreaterThan(stdout.lastIndexOf(HIDE));
      const id = /interrupted: job (job_\S+) cancelled/.exec(stdout)?.[1];
      expect(id).toBeDefined();
      expect((await api(server.url, 'GET', `/v1/jobs/${id}`)).json.state).toBe('cancelled');
    } finally {
      await front.close();
    }
  });
});
