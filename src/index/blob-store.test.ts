import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore, blobHash } from './blob-store.js';

const stores: BlobStore[] = [];
function open(dir = mkdtempSync(join(tmpdir(), 'blobs-'))) {
  const store = new BlobStore(dir);
  stores.push(store);
  return { store, dir };
}
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

describe('BlobStore', () => {
  it('stores bytes once by content and gives them back', async () => {
    const { store } = open();
    const bytes = Buffer.from('some image bytes');
    const hash = await store.put(bytes, 'job:a');
    expect(hash).toBe(blobHash(bytes));
    expect(await store.put(Buffer.from('some image bytes'), 'job:b')).toBe(hash);
    expect((await store.read(hash))?.equals(bytes)).toBe(true);
    expect(store.usage()).toEqual({ blobs: 1, bytes: bytes.length });
    expect(await store.read('0'.repeat(64))).toBeUndefined();
    expect(await store.read('../../etc/passwd')).toBeUndefined();
  });

  it('deletes a blob with its last reference, from items, indexes and holders alike', async () => {
    const { store } = open();
    const hash = await store.put(Buffer.from('shared'), 'write:1');
    store.setItemRefs('a', [{ id: 'x', hash }, { id: 'y', hash }]);
    store.setItemRefs('b', [{ id: 'x', hash }]);
    store.release('write:1');
    expect(store.references(hash)).toBe(3);
    store.releaseItems('a', ['x']);
    store.setItemRefs('a', [{ id: 'y', hash: null }]); // replaced by an item without an image
    expect(store.has(hash)).toBe(true);
    store.releaseIndex('b');
    expect(store.references(hash)).toBe(0);
    expect(store.has(hash)).toBe(false);
  });

  it('keeps a blob an item points at when the write that brought it is released', async () => {
    const { store } = open();
    const hash = await store.put(Buffer.from('kept'), 'write:2');
    store.setItemRefs('a', [{ id: 'x', hash }]);
    store.release('write:2');
    expect(store.has(hash)).toBe(true);
    // Pointing the item at another image frees the first.
    const other = await store.put(Buffer.from('other'), 'write:3');
    store.setItemRefs('a', [{ id: 'x', hash: other }]);
    store.release('write:3');
    expect(store.has(hash)).toBe(false);
    expect(store.has(other)).toBe(true);
  });

  it('recovers at start-up: holds of gone holders are dropped, then unreferenced files and torn writes are swept', async () => {
    const { store, dir } = open();
    const held = await store.put(Buffer.from('held by a live job'), 'job:live');
    const orphan = await store.put(Buffer.from('held by a dead request'), 'write:dead');
    const named = await store.put(Buffer.from('named by an item'), 'write:dead');
    store.setItemRefs('a', [{ id: 'x', hash: named }]);
    writeFileSync(join(dir, 'blobs', held.slice(0, 2), `${held}.123.tmp`), 'torn');
    store.close();
    stores.pop();
    const reopened = open(dir).store;
    expect(reopened.recover((holder) => holder === 'job:live')).toBe(2);
    expect(reopened.has(held)).toBe(true);
    expect(reopened.has(named)).toBe(true);
    expect(reopened.has(orphan)).toBe(false);
    expect(readdirSync(join(dir, 'blobs', held.slice(0, 2))).some((name) => name.endsWith('.tmp'))).toBe(false);
    expect(existsSync(join(dir, 'blobs.sqlite'))).toBe(true);
  });
});
