import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobStore } from './job-store.js';

function store() {
  return new JobStore(mkdtempSync(join(tmpdir(), 'jobs-')));
}

describe('JobStore', () => {
  it('counts each position of a chunk once, however often it is reported', () => {
    const jobs = store();
    jobs.create({ id: 'j1', type: 'ingest', index: 'a', open: false, params: {} });
    const n = jobs.addChunk('j1', 4, [{ pos: 3, id: 'bad', code: 'invalid_item', message: 'no source' }]);
    expect(n).toBe(0);
    expect(jobs.get('j1')).toMatchObject({ total: 4, done: 0, failed: 1, chunks: 1 });
    expect(jobs.resolve('j1', 0, [0, 1], [])).toBe(1);
    // A retried chunk reports the same positions again, and one more.
    expect(jobs.resolve('j1', 0, [0, 1], [{ pos: 2, id: 'c', code: 'url_fetch_timeout', message: 'slow' }])).toBe(0);
    expect(jobs.resolve('j1', 0, [2], [{ pos: 3, id: 'bad', code: 'other', message: 'again' }])).toBe(0);
    expect(jobs.get('j1')).toMatchObject({ total: 4, done: 2, failed: 2 });
    expect(jobs.failures('j1', 10).items.map((failure) => [failure.id, failure.code])).toEqual([
      ['c', 'url_fetch_timeout'],
      ['bad', 'invalid_item'],
    ]);
    expect(jobs.incompleteChunks('j1')).toEqual([]);
    jobs.close();
  });

  it('pages failures in the order items were taken in', () => {
    const jobs = store();
    jobs.create({ id: 'j2', type: 'ingest', index: 'a', open: false, params: {} });
    for (let c = 0; c < 3; c++) {
      jobs.addChunk('j2', 2, [0, 1].map((pos) => ({ pos, id: `c${c}p${pos}`, code: 'invalid_item', message: 'x' })));
    }
    const first = jobs.failures('j2', 4);
    expect(first.items.map((failure) => failure.id)).toEqual(['c0p0', 'c0p1', 'c1p0', 'c1p1']);
    const second = jobs.failures('j2', 4, first.next!);
    expect(second.items.map((failure) => failure.id)).toEqual(['c2p0', 'c2p1']);
    expect(second.next).toBeNull();
    jobs.close();
  });

  it('stamps start and end with the state, lists newest first and pages with a cursor', () => {
    const jobs = store();
    for (const id of ['a', 'b', 'c']) jobs.create({ id, type: 'ingest', index: 'x', open: true, params: {} });
    expect(jobs.update('a', { state: 'running' }).startedAt).not.toBeNull();
    const ended = jobs.update('a', { state: 'completed', result: { n: 1 } });
    expect(ended.finishedAt).not.toBeNull();
    expect(ended.result).toEqual({ n: 1 });
    expect(jobs.active().map((job) => job.id).sort()).toEqual(['b', 'c']);
    const page = jobs.list({ limit: 2 });
    expect(page).toHaveLength(2);
    const rest = jobs.list({ limit: 2, before: page[1]!.id });
    expect([...page, ...rest].map((job) => job.id).sort()).toEqual(['a', 'b', 'c']);
    expect(jobs.list({ limit: 10, states: ['completed'] }).map((job) => job.id)).toEqual(['a']);
    jobs.close();
  });
});
