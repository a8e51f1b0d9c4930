import { describe, expect, it } from 'vitest';
import { WriteGate } from './write-gate.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('WriteGate', () => {
  it('closes only once the writes in flight are done, and holds new writes back until it opens', async () => {
    const gate = new WriteGate();
    const leaveA = await gate.enter();
    const leaveB = await gate.enter();
    let closed = false;
    const closing = gate.close().then(() => (closed = true));
    await tick();
    expect(closed).toBe(false);
    leaveA();
    await tick();
    expect(closed).toBe(false);
    leaveB();
    await closing;
    expect(gate.isClosed).toBe(true);

    let entered = false;
    const waiting = gate.enter().then((leave) => {
      entered = true;
      return leave;
    });
    await tick();
    expect(entered).toBe(false);
    gate.open();
    (await waiting)();
    expect(entered).toBe(true);
    expect(gate.writing).toBe(0);
  });

  it('counts a write once however often it leaves', async () => {
    const gate = new WriteGate();
    const leave = await gate.enter();
    leave();
    leave();
    expect(gate.writing).toBe(0);
    await gate.close();
    gate.open();
  });

  it('serializes two closes: the second waits for the first to open', async () => {
    const gate = new WriteGate();
    await gate.close();
    let second = false;
    const closing = gate.close().then(() => (second = true));
    await tick();
    expect(second).toBe(false);
    gate.open();
    await closing;
    expect(second).toBe(true);
    gate.open();
  });
});
