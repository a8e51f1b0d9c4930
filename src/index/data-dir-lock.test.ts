import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataDirLock, DataDirLockedError } from './data-dir-lock.js';

describe('DataDirLock', () => {
  it('refuses a second owner while the first lives, and frees the directory on release', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    const lock = DataDirLock.acquire(dir);
    expect(JSON.parse(readFileSync(join(dir, 'owner.lock'), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => DataDirLock.acquire(dir)).toThrow(DataDirLockedError);
    expect(() => DataDirLock.acquire(dir)).toThrow(`is in use by process ${process.pid}`);
    lock.release();
    expect(existsSync(join(dir, 'owner.lock'))).toBe(false);
    DataDirLock.acquire(dir).release();
  });

  it('takes over a lock left by a process that no longer runs, or a torn one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(dir, 'owner.lock'), JSON.stringify({ pid: Number(gone), host: hostname(), startedAt: '2026-01-01T00:00:00Z' }));
    DataDirLock.acquire(dir).release();
    writeFileSync(join(dir, 'owner.lock'), '{"pid": 12');
    DataDirLock.acquire(dir).release();
  });

  it('honours a lock written on another host (its process cannot be checked from here)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    writeFileSync(join(dir, 'owner.lock'), JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: '2026-01-01T00:00:00Z' }));
    expect(() => DataDirLock.acquire(dir)).toThrow(/process 1 on elsewhere/);
  });

  it('does not remove a lock that another process has taken since', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lock-'));
    const lock = DataDirLock.acquire(dir);
    writeFileSync(join(dir, 'owner.lock'), JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: 'later' }));
    lock.release();
    expect(existsSync(join(dir, 'owner.lock'))).toBe(true);
  });
});
