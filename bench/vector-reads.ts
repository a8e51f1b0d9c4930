/**
 * bench/vector-reads — what the rescoring's reads of float vectors cost, per batch of `--batch`
 * random slots of a vector file, three ways in turns: the native addon through the thread's
 * io_uring (the service's path where the addon is built), the addon with pread, and Node's readSync
 * (LOOKBOOK_GRAPH=usearch). Each way reads its own third of the file's slots (so one never warms
 * the pages another reads) and each round draws new slots: over a file not in the page cache the
 * first round reads from the disk, the later ones more and more from the cache.
 *
 *   npm run bench:vector-reads -- /tmp/lbkeep/<dataset>/b1-M16/idx/vectors.f32 [--dim 512] [--batch 40] [--batches 5000] [--rounds 4]
 */
import { parseArgs } from 'node:util';
import { nativeGraphModule } from '../src/index/native-graph.js';
import { VectorFile, type VectorStorage } from '../src/index/vector-file.js';
import { rng } from '../src/util/random.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dim: { type: 'string', default: '512' },
    batch: { type: 'string', default: '40' },
    batches: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '4' },
  },
});
const path = positionals[0];
if (!path) throw new Error('usage: bench:vector-reads -- <vectors.f32|vectors.f16> [--dim 512] [--batch 40] [--batches 5000] [--rounds 4]');
const storage: VectorStorage = path.endsWith('.f16') ? 'f16' : 'f32';
const dimension = Number(values.dim);
const batch = Number(values.batch);
const batches = Number(values.batches);

const native = nativeGraphModule().module;
if (!native) throw new Error(`the native addon is not built: ${nativeGraphModule().why}`);
const file = new VectorFile(path, dimension, storage);
process.env.LOOKBOOK_GRAPH = 'usearch';
const script = new VectorFile(path, dimension, storage);
const fd = (file as unknown as { fd: number }).fd;
const random = rng(7);
const query = Float32Array.from({ length: dimension }, () => random() - 0.5);
const out = new Float64Array(batch);

const ways: [string, (slots: Uint32Array) => void][] = [
  ['addon, io_uring', (slots) => native.dotMany(fd, slots, storage, query, out)],
  ['addon, pread', (slots) => native.dotMany(fd, slots, storage, query, out, 'pread')],
  ['Node readSync', (slots) => script.dotMany(slots, query, out)],
];
console.log(`# ${path}: ${file.slots.toLocaleString('en-US')} vectors, ${batch} a batch, ${batches} batches a round\n`);
console.log('| round | ' + ways.map(([name]) => `${name}, µs a batch`).join(' | ') + ' |');
console.log('| --- | ' + ways.map(() => '---').join(' | ') + ' |');
for (let round = 1; round <= Number(values.rounds); round++) {
  const third = Math.floor(file.slots / ways.length);
  const cells = ways.map(([, read], way) => {
    const sets = Array.from({ length: batches }, () => Uint32Array.from({ length: batch }, () => way * third + Math.floor(random() * third)));
    const started = performance.now();
    for (const slots of sets) read(slots);
    return (((performance.now() - started) / batches) * 1000).toFixed(1);
  });
  console.log(`| ${round} | ${cells.join(' | ')} |`);
}
file.close();
script.close();
