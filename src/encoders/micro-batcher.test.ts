import { describe, expect, it } from 'vitest';
import { OverloadedError } from '../errors.js';
import { MicroBatcher } from './micro-batcher.js';

function doubler(log: number[][], delayMs = 5) {
  return async (inputs: number[]) => {
    log.push([...inputs]);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return inputs.map((x) => x * 2);
  };
}

describe('MicroBatcher', () => {
  it('coalesces concurrent submissions into few runs and keeps each output with its input', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher({ maxBatchSize: 16, maxWaitMs: 5, maxQueue: 1000, run: doubler(runs) });
    const inputs = Array.from({ length: 64 }, (_, i) => i);
    const outputs = await Promise.all(inputs.map((x) => batcher.submit(x)));
    expect(outputs).toEqual(inputs.map((x) => x * 2));
    expect(runs.length).toBe(4);
    expect(runs.every((batch) => batch.length <= 16)).toBe(true);
    expect(batcher.runs).toBe(4);
  });

  it('collects inputs that arrive while a run is in flight into the next run', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher({ maxBatchSize: 100, maxWaitMs: 0, maxQueue: 1000, run: doubler(runs, 20) });
    const first = batcher.submit(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = [2, 3, 4].map((x) => batcher.submit(x));
    await Promise.all([first, ...later]);
    expect(runs).toEqual([[1], [2, 3, 4]]);
  });

  it('refuses inputs beyond the queue bound with a retry hint', async () => {
    const batcher = new MicroBatcher({ maxBatchSize: 10, maxWaitMs: 50, maxQueue: 3, run: doubler([]) });
    batcher.announce(); // a fourth input is still being decoded, so the three wait for it
    const accepted = [1, 2, 3].map((x) => batcher.submit(x));
    const refused = batcher.submit(4);
    await expect(refused).rejects.toBeInstanceOf(OverloadedError);
    await expect(refused).rejects.toMatchObject({ status: 429, headers: { 'Retry-After': expect.stringMatching(/^\d+$/) } });
    await expect(Promise.all(accepted)).resolves.toEqual([2, 4, 6]);
    batcher.withdraw();
  });

  it('drops inputs whose signal aborted before their run and rejects them with the reason', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher({ maxBatchSize: 8, maxWaitMs: 20, maxQueue: 100, run: doubler(runs) });
    const controller = new AbortController();
    const kept = batcher.submit(1);
    const dropped = batcher.submit(2, controller.signal);
    controller.abort(new Error('gone'));
    await expect(dropped).rejects.toThrow('gone');
    await expect(kept).resolves.toBe(2);
    expect(runs).toEqual([[1]]);
  });

  it('rejects every input of a failed run and keeps serving afterwards', async () => {
    let fail = true;
    const batcher = new MicroBatcher<number, number>({
      maxBatchSize: 8,
      maxWaitMs: 1,
      maxQueue: 100,
      run: async (inputs) => {
        if (fail) throw new Error('boom');
        return inputs;
      },
    });
    const failed = await Promise.allSettled([batcher.submit(1), batcher.submit(2)]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(batcher.submit(3)).resolves.toBe(3);
  });

  it('resolves idle() only after queued work finished', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher({ maxBatchSize: 4, maxWaitMs: 5, maxQueue: 100, run: doubler(runs, 10) });
    const results: number[] = [];
    for (const x of [1, 2, 3, 4, 5]) void batcher.submit(x).then((y) => results.push(y));
    await batcher.idle();
    expect(results.sort((a, b) => a - b)).toEqual([2, 4, 6, 8, 10]);
  });
});

describe('MicroBatcher announcements', () => {
  it('runs a lone input at once when nothing else is announced', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher({ maxBatchSize: 8, maxWaitMs: 10_000, maxQueue: 100, run: doubler(runs, 1) });
    const started = performance.now();
    await expect(batcher.submit(21)).resolves.toBe(42);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('waits for announced inputs to share their run, and not past maxWaitMs', async () => {
    const runs: number[][] = [];
    const batcher = new MicroBatcher({ maxBatchSize: 8, maxWaitMs: 200, maxQueue: 100, run: doubler(runs, 1) });
    batcher.announce();
    batcher.announce();
    const first = batcher.submit(1, undefined, { announced: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = batcher.submit(2, undefined, { announced: true });
    await Promise.all([first, second]);
    expect(runs).toEqual([[1, 2]]);

    batcher.announce(); // never comes
    const started = performance.now();
    await batcher.submit(3);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    batcher.withdraw();
    expect(runs).toEqual([[1, 2], [3]]);
  });
});
