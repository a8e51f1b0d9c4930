#!/usr/bin/env node
// Packs what bench/gpu needs on a GPU host that has no Node.js and no registry, in two parts that
// each fit beside the tree in one call of the device tool (64 MiB in all, the tree included):
//
//   .gpu/node/   node.xz: this machine's Node binary, stripped (~22 MB)          → call 1 carries it
//   .gpu/bench/  bench-gpu.mjs: bench/gpu.ts and its JavaScript in one bundle    → call 2 carries it
//                node_modules.tar.xz: onnxruntime-node (linux/x64 binaries only) with onnxruntime-common,
//                  sharp with its linux-x64 libvips build (~19 MB)
//                libvulkan1_*.deb: Debian's Vulkan loader, for the WebGPU provider
//
// training/gpu/bench-gpu.sh unpacks them there. The bundle is rolldown's (Vite's bundler, already
// installed); the native modules stay outside it. Prints each part's size and the total with the
// tracked tree. `--skip-node` leaves the Node part as it is (it only changes with Node itself).
//
//   node scripts/gpu-bundle.mjs [--skip-node]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.gpu');
const nodePart = join(out, 'node');
const benchPart = join(out, 'bench');
const limit = 64 * 1024 * 1024;
const skipNode = process.argv.includes('--skip-node');

const run = (cmd, args, options = {}) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30, ...options });
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const sizeOf = (dir) => (existsSync(dir) ? readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0) : 0);

function trackedBytes() {
  const files = run('git', ['ls-files', '-z']).toString().split('\0').filter(Boolean);
  return files.reduce((sum, file) => sum + (existsSync(join(root, file)) ? statSync(join(root, file)).size : 0), 0);
}

/** Untracked files git does not ignore travel too. */
function untrackedBytes() {
  const files = run('git', ['ls-files', '-z', '--others', '--exclude-standard']).toString().split('\0').filter(Boolean);
  return files.reduce((sum, file) => sum + statSync(join(root, file)).size, 0);
}

async function bundle() {
  const { build } = await import('rolldown');
  await build({
    input: join(root, 'bench/gpu.ts'),
    platform: 'node',
    external: ['onnxruntime-node', 'sharp'],
    logLevel: 'warn',
    output: { file: join(benchPart, 'bench-gpu.mjs'), format: 'esm', minify: false },
  });
}

function packModules() {
  const ort = 'node_modules/onnxruntime-node';
  const modules = [
    ort,
    'node_modules/onnxruntime-common',
    'node_modules/sharp',
    'node_modules/@img/colour',
    'node_modules/@img/sharp-linux-x64',
    'node_modules/@img/sharp-libvips-linux-x64',
    'node_modules/detect-libc',
    'node_modules/semver',
  ];
  const excludes = ['darwin', 'win32', 'linux/arm64'].map((platform) => `--exclude=${ort}/bin/napi-v6/${platform}`);
  const tar = run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', ...excludes, '-cf', '-', ...modules]);
  return execFileSync('xz', ['-9', '-T0', '-c'], { input: tar, maxBuffer: 1 << 30 });
}

async function main() {
  mkdirSync(benchPart, { recursive: true });
  mkdirSync(nodePart, { recursive: true });
  console.error('[gpu-bundle] bundling bench/gpu.ts');
  await bundle();
  console.error('[gpu-bundle] packing the native modules (xz -9)');
  writeFileSync(join(benchPart, 'node_modules.tar.xz'), packModules());
  if (!readdirSync(benchPart).some((name) => name.startsWith('libvulkan1_') && name.endsWith('.deb'))) {
    console.error('[gpu-bundle] apt-get download libvulkan1');
    run('apt-get', ['download', 'libvulkan1'], { cwd: benchPart });
  }
  if (!skipNode || !existsSync(join(nodePart, 'node.xz'))) {
    console.error(`[gpu-bundle] stripping and packing ${process.execPath} (${process.version}; xz -9e, about 1.5 min)`);
    const stripped = join(nodePart, 'node');
    run('cp', [process.execPath, stripped]);
    run('strip', [stripped]);
    rmSync(join(nodePart, 'node.xz'), { force: true });
    run('xz', ['-9e', '-T0', stripped]);
  }
  const tree = trackedBytes() + untrackedBytes();
  const parts = { '.gpu/node': sizeOf(nodePart), '.gpu/bench': sizeOf(benchPart) };
  console.log(`tree (tracked + untracked, not ignored): ${mib(tree)}`);
  let fits = true;
  for (const [part, bytes] of Object.entries(parts)) {
    const total = tree + bytes;
    fits &&= total <= limit;
    console.log(`call carrying ${part}: ${mib(bytes)} + tree = ${mib(total)} of ${mib(limit)} ${total <= limit ? 'fits' : 'DOES NOT FIT'}`);
  }
  for (const name of readdirSync(benchPart)) console.log(`  .gpu/bench/${name}: ${mib(statSync(join(benchPart, name)).size)}`);
  for (const name of readdirSync(nodePart)) console.log(`  .gpu/node/${name}: ${mib(statSync(join(nodePart, name)).size)}`);
  if (!fits) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
