#!/usr/bin/env node
// Makes `npm start` and `npm test` work on a fresh clone: installs the npm packages when they are
// missing or older than the lock file, compiles TypeScript when dist/ is missing or stale, and builds
// the web app when dist/web is missing or older than web/, and the native graph (scripts/build-native.mjs).
// Uses only Node's standard library, since it runs before anything is installed.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNative } from './build-native.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

function newestUnder(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function run(cmd, args, why) {
  process.stderr.write(`[setup] ${why}: ${cmd} ${args.join(' ')}\n`);
  // ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's install script would otherwise try to
  // download CUDA libraries from outside the npm registry; hosts with internet may override it.
  execFileSync(cmd, args, {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ONNXRUNTIME_NODE_INSTALL: 'skip', ...process.env },
  });
}

const installedMarker = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
if (!existsSync(installedMarker) || mtime(installedMarker) < mtime(lock) || mtime(installedMarker) < mtime(join(root, 'package.json'))) {
  run(npm, existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'], 'installing npm packages');
}

const builtMarker = join(root, 'dist', 'src', 'main.js');
const sourcesChanged = Math.max(newestUnder(join(root, 'src')), newestUnder(join(root, 'bench')), newestUnder(join(root, 'tools')), mtime(join(root, 'tsconfig.json')));
if (!existsSync(builtMarker) || mtime(builtMarker) < sourcesChanged) {
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], 'compiling TypeScript');
}

// The native graph (native/graph.cpp) into dist/native; without a compiler, indexes use USearch's binding.
buildNative();

// The web app (web/, Vite + Preact) is built into dist/web, which the service serves at `/`.
const webMarker = join(root, 'dist', 'web', 'index.html');
const webChanged = Math.max(newestUnder(join(root, 'web')), mtime(installedMarker));
if (!existsSync(webMarker) || mtime(webMarker) < webChanged) {
  // Vite strips types without checking them: tsc checks them first, as it does for the server.
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'web/tsconfig.json'], 'type-checking the web app');
  run(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], 'building the web app');
}

// `npx lookbook` runs the package's own bin, which must be executable.
if (existsSync(builtMarker)) chmodSync(builtMarker, 0o755);
