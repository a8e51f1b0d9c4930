#!/usr/bin/env node
// Builds native/graph.cpp (the service's HNSW graph over sign codes, on USearch's own headers) into
// dist/native/lookbook-graph.node, when it is missing or older than its sources. A Node-API addon
// compiled with the C++ compiler directly against the running Node's headers: nothing is downloaded
// (node-gyp would fetch headers unless told where they are). When no compiler or no headers are
// there, it says so and exits 0: the service then runs on USearch's prebuilt binding, which reads
// and writes the same files (src/index/native-graph.ts). Run by scripts/ensure-setup.mjs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'graph.cpp');
const output = join(root, 'dist', 'native', 'lookbook-graph.node');
const usearchInclude = join(root, 'node_modules', 'usearch', 'include');
const addonApiInclude = join(root, 'node_modules', 'node-addon-api');

function mtime(path) {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

/** The directory holding node_api.h: the running Node's own, or where npm was told Node is. */
function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/local/include/node',
    '/usr/include/node',
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
}

export function buildNative({ force = false } = {}) {
  const inputs = [source, join(usearchInclude, 'usearch', 'index.hpp'), join(addonApiInclude, 'napi.h'), fileURLToPath(import.meta.url)];
  if (!force && mtime(output) >= Math.max(...inputs.map(mtime))) return true;
  const headers = nodeHeaders();
  const missing = !headers ? 'Node headers (node_api.h)' : inputs.slice(0, 3).find((path) => !existsSync(path));
  if (missing) {
    process.stderr.write(`[setup] native graph not built (${missing} not found): indexes use USearch's own binding\n`);
    return false;
  }
  const compiler = process.env.CXX || 'g++';
  // x86-64-v2 (2009 on: SSE4.2, POPCNT) for the Hamming distance's popcount; elsewhere the default.
  const target = arch() === 'x64' ? ['-march=x86-64-v2'] : [];
  const temporary = `${output}.${process.pid}.tmp`;
  mkdirSync(dirname(output), { recursive: true });
  const args = [
    '-O3', '-std=c++17', '-shared', '-fPIC', '-fexceptions', '-fvisibility=hidden', ...target,
    '-Wall', '-Wno-unknown-pragmas', '-ffp-contract=off', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_CPP_EXCEPTIONS_ALL', '-DNAPI_VERSION=8', '-DNDEBUG',
    '-I', headers, '-I', addonApiInclude, '-I', usearchInclude,
    source, '-o', temporary, '-lpthread',
  ];
  process.stderr.write(`[setup] building the native graph: ${compiler} … native/graph.cpp\n`);
  try {
    execFileSync(compiler, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(temporary, output);
    return true;
  } catch (error) {
    rmSync(temporary, { force: true });
    process.stderr.write(`[setup] native graph not built (${error instanceof Error ? error.message.split('\n')[0] : String(error)}): indexes use USearch's own binding\n`);
    return false;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = buildNative({ force: process.argv.includes('--force') }) ? 0 : 1;
}
