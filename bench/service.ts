/**
 * The service as deployed, for benchmarks that drive it over HTTP: `node dist/src/main.js` in its
 * own process on 127.0.0.1 (a free port, a temporary data directory, CPU, jobs off), its log lines
 * written to a file as to a journal. Children still running when the bench exits are killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Service {
  child: ChildProcess;
  origin: string;
  dataDir: string;
  log: string;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the service with the models in `model` and waits (up to 180 s) until it is ready. */
export async function startService(options: { model: string; logLevel: string; name: string }): Promise<Service> {
  const dataDir = mkdtempSync(join(tmpdir(), `lookbook-bench-${options.name}-`));
  const port = await freePort();
  const log = join(dataDir, 'server.log');
  const out = openSync(log, 'a');
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: {
      ...process.env,
      LOOKBOOK_HOST: '127.0.0.1',
      LOOKBOOK_PORT: String(port),
      LOOKBOOK_DATA_DIR: dataDir,
      LOOKBOOK_REDIS_URL: 'none',
      LOOKBOOK_PROVIDERS: 'cpu',
      LOOKBOOK_MODELS: options.model,
      LOOKBOOK_LOG_LEVEL: options.logLevel,
    },
    stdio: ['ignore', out, 'inherit'],
  });
  closeSync(out);
  children.add(child);
  child.once('exit', () => children.delete(child));
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    if (await fetch(`${origin}/readyz`).then((response) => response.ok, () => false)) return { child, origin, dataDir, log };
    if (Date.now() > deadline) throw new Error('the service did not become ready in 180 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Stops the service (SIGTERM, a graceful shutdown) and deletes its data directory. */
export async function stopService(service: Service): Promise<void> {
  if (service.child.exitCode === null) {
    const exited = new Promise((resolve) => service.child.once('exit', resolve));
    service.child.kill('SIGTERM');
    await exited;
  }
  rmSync(service.dataDir, { recursive: true, force: true });
}
