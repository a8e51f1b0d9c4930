import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenLocal } from './helpers/http-server.js';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';

const children = new Set<ChildProcess>();

beforeAll(() => {
  if (!existsSync('dist/src/main.js')) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
});
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** `node dist/src/main.js …args`, with `input` on standard input; resolves its exit code and output. */
async function lookbook(args: string[], options: { env?: Record<string, string>; input?: string } = {}) {
  const child = spawn(process.execPath, ['dist/src/main.js', ...args], {
    // No LOOKBOOK_SERVER, LOOKBOOK_API_KEY or LOOKBOOK_LOG_LEVEL from the caller's shell.
    env: { ...process.env, LOOKBOOK_SERVER: '', LOOKBOOK_API_KEY: '', LOOKBOOK_LOG_LEVEL: 'info', LOOKBOOK_MODELS: 'models/fixture', LOOKBOOK_DETECTOR: 'none', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  child.stdin!.end(options.input ?? '');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  children.delete(child);
  return { code, stdout, stderr };
}

/** One line `lookbook…: <reason>` on standard error, no stack, the given exit code. */
function expectOneLine(result: { code: number | null; stderr: string }, code: number, reason: RegExp) {
  expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr.trim()).toMatch(reason);
  expect(result.code).toBe(code);
}

function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'lookbook-cli-')), name);
  writeFileSync(file, text);
  return file;
}

describe('command line mistakes', () => {
  it('say what is wrong in one line, without a stack', async () => {
    expectOneLine(await lookbook(['ingest', '/nonexistent.jsonl', '--index', 'shop']), 1, /^lookbook: \/nonexistent\.jsonl does not exist$/);
    expectOneLine(await lookbook(['graph', 'upload', '/nonexistent/nope.jsonl', '--index', 'shop']), 2, /^lookbook: \/nonexistent\/nope\.jsonl does not exist$/);
    expectOneLine(await lookbook(['graph', 'upload', tmpdir(), '--index', 'shop']), 2, /is a directory, not a file$/);
    expectOneLine(await lookbook(['worker'], { env: { LOOKBOOK_REDIS_URL: 'none' } }), 1, /^lookbook failed to start: a worker needs Redis: set LOOKBOOK_REDIS_URL$/);
    expectOneLine(await lookbook(['jobs', '--follow']), 2, /^lookbook: --follow needs a job id/);
    expectOneLine(await lookbook(['frobnicate']), 1, /unknown command 'frobnicate'/);
  });

  it('shows the stack of an unexpected error only with LOOKBOOK_LOG_LEVEL=debug', async () => {
    const debug = await lookbook(['ingest', '/nonexistent.jsonl', '--index', 'shop'], { env: { LOOKBOOK_LOG_LEVEL: 'debug' } });
    expect(debug.code).toBe(1);
    expect(debug.stderr.split('\n')[0]).toBe('lookbook: /nonexistent.jsonl does not exist');
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('refuses a --server that is not an http(s) URL at once, the worker too', async () => {
    expectOneLine(await lookbook(['jobs', '--server', 'notaurl']), 2, /^lookbook: --server "notaurl" is not an http\(s\) URL/);
    expectOneLine(await lookbook(['worker', '--server', 'notaurl'], { env: { LOOKBOOK_REDIS_URL: 'redis://127.0.0.1:6379' } }), 2, /^lookbook: --server "notaurl" is not an http\(s\) URL/);
    expectOneLine(await lookbook(['jobs'], { env: { LOOKBOOK_SERVER: 'ftp://example.com' } }), 2, /^lookbook: LOOKBOOK_SERVER "ftp:\/\/example\.com" is not an http\(s\) URL/);
  });
});

describe('a server that is not a Lookbook server, or not answering', () => {
  it('says so for an HTML answer, a plain-http server spoken to with https, a key that cannot be sent and a server that never answers', async () => {
    const html = await listenLocal((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end('<html><body>hello</body></html>');
    });
    const silent = await listenLocal(() => undefined);
    try {
      expectOneLine(await lookbook(['jobs', '--server', html.origin]), 1, /^lookbook: not_json: GET \/v1\/jobs\?limit=20 answered 200 with text\/html, not JSON: is http:\/\/127\.0\.0\.1:\d+ a Lookbook server\?/);
      expectOneLine(await lookbook(['jobs', '--server', html.origin.replace('http:', 'https:')]), 2, /^lookbook: tls_error: https:\/\/127\.0\.0\.1:\d+ does not speak TLS: is it an http:\/\/ server\?/);
      expectOneLine(await lookbook(['jobs', '--server', html.origin, '--api-key', 'ключ']), 2, /^lookbook: the API key \(--api-key or LOOKBOOK_API_KEY\) has characters an HTTP header cannot carry/);
      const started = Date.now();
      expectOneLine(await lookbook(['jobs', '--server', silent.origin], { env: { LOOKBOOK_CLIENT_TIMEOUT_MS: '300' } }), 2, /^lookbook: timeout: http:\/\/127\.0\.0\.1:\d+ did not answer GET \/v1\/jobs\?limit=20 within 0\.3 s/);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await html.close();
      await silent.close();
    }
  }, 60_000);
});

describe('keys hash and keys create', () => {
  it('refuse what the server would refuse, before making or hashing a key', async () => {
    for (const command of ['hash', 'create']) {
      const bad = await lookbook(['keys', command, 'bad id:x', '--scopes', 'bogus', '--limit', '5/fortnight'], { input: 'k\n' });
      expectOneLine(bad, 2, new RegExp(`^lookbook keys ${command}: the id is 1 to 64 letters`));
      expect(bad.stdout).toBe('');
      expectOneLine(await lookbook(['keys', command, 'web', '--scopes', 'read,bogus'], { input: 'k\n' }), 2, /--scopes "read,bogus": unknown scope bogus; give read, write and\/or admin/);
      expectOneLine(await lookbook(['keys', command, 'web', '--limit', '5/fortnight'], { input: 'k\n' }), 2, /--limit "5\/fortnight": a budget like/);
    }
    const created = await lookbook(['keys', 'create', 'ok', '--scopes', 'read,bogus']);
    expect(created.stderr).not.toMatch(/[0-9a-f]{64}|lbk_/);
    expectOneLine(await lookbook(['keys', 'hash', 'web']), 2, /^lookbook keys hash: no key on standard input/);
  });

  it('print an entry with each scope once', async () => {
    const hashed = await lookbook(['keys', 'hash', 'web', '--scopes', 'read,read,write', '--limit', '600/min'], { input: 'k\n' });
    expect(hashed.code).toBe(0);
    expect(hashed.stdout).toBe('web:read,write:8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a:600/min\n');
    const created = await lookbook(['keys', 'create', 'ok', '--scopes', 'read,read']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^key: {3}lbk_ok_\S+\nentry: ok:read:[0-9a-f]{64}\n$/);
  });
});

describe('graph upload', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await postJson(`${server.url}/v1/indexes`, { name: 'shop' });
  });
  afterAll(async () => {
    await server?.close();
  });
  const upload = (file: string) => lookbook(['graph', 'upload', file, '--index', 'shop', '--server', server.url]);

  it('sends a one-line JSONL file as JSONL, whatever its name', async () => {
    const board = await upload(tempFile('solo.json', `${JSON.stringify({ id: 'solo', items: ['a', 'b', 'c'] })}\n`));
    expect(board.stderr).toBe('');
    expect(JSON.parse(board.stdout)).toMatchObject({ boards: 1, memberships: 3 });
    const pair = await upload(tempFile('pair.txt', JSON.stringify({ pair: ['a', 'b', 2] })));
    expect(pair.stderr).toBe('');
    expect(JSON.parse(pair.stdout)).toMatchObject({ boards: 0, pairs: 1 });
  });

  it('sends the JSON form as JSON, after a byte order mark too', async () => {
    const json = await upload(tempFile('graph.json', `\uFEFF${JSON.stringify({ boards: [{ id: 'b1', items: ['a', 'b'] }], pairs: [['a', 'c']] }, null, 2)}`));
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toMatchObject({ boards: 1, pairs: 1 });
    const jsonl = await upload(tempFile('graph.txt', `\uFEFF${JSON.stringify({ id: 'b1', items: ['a', 'b'] })}\n${JSON.stringify(['a', 'c'])}\n`));
    expect(jsonl.stderr).toBe('');
    expect(JSON.parse(jsonl.stdout)).toMatchObject({ boards: 1, pairs: 1 });
  });

  it('says a file is neither JSON nor JSONL, or empty, without sending it', async () => {
    expectOneLine(await upload(tempFile('graph.json', '{\n  "boards": [\n    {"id": "b1", "items": ["a",]}\n  ]\n}\n')), 2, /graph\.json is neither JSON \(Unexpected token .\]..*\) nor JSONL \(its first line is not JSON\)$/);
    expectOneLine(await upload(tempFile('graph.json', '\n  \n')), 2, /graph\.json is empty/);
    expectOneLine(await upload(tempFile('graph.json', '[\n  "a",\n  "b"\n]\n')), 2, /graph\.json is JSON but not a graph/);
  });
});
