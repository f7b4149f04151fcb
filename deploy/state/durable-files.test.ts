import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DurableFiles } from './durable-files.js';

describe('durable files', () => {
  it('writes whole files owner-only, leaves no temp file, and shares directory fsyncs between concurrent writes', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'sluice-durable-')), 'a', 'b');
    const files = new DurableFiles();
    await Promise.all(Array.from({ length: 100 }, (_, i) => files.write(join(dir, `f${i}.json`), `{"n":${i}}`)));
    expect(readdirSync(dir).sort()).toEqual(Array.from({ length: 100 }, (_, i) => `f${i}.json`).sort());
    for (let i = 0; i < 100; i++) expect(readFileSync(join(dir, `f${i}.json`), 'utf8')).toBe(`{"n":${i}}`);
    expect(statSync(join(dir, 'f0.json')).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(files.stats.files).toBe(100);
    // Each rename is covered by a directory fsync that started after it; concurrent ones share.
    expect(files.stats.directorySyncs).toBeGreaterThan(0);
    expect(files.stats.directorySyncs).toBeLessThan(100);
  });

  it('replaces a file and removes one durably', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-durable-'));
    const files = new DurableFiles();
    await files.write(join(dir, 'x.json'), 'one');
    await files.write(join(dir, 'x.json'), 'two');
    expect(readFileSync(join(dir, 'x.json'), 'utf8')).toBe('two');
    await files.remove(join(dir, 'x.json'));
    await files.remove(join(dir, 'x.json'));
    expect(readdirSync(dir)).toEqual([]);
  });
});
