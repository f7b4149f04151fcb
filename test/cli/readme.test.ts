/**
 * The README's requests work when pasted: every `curl` in it is a complete command, and the ones of the first run
 * answer against a running Sluice serving the demo iris model (real sockets, a real replica process).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';

const run = promisify(execFile);
const README = readFileSync(join(SLUICE_ROOT, 'README.md'), 'utf8');

/** The commands of the README's sh blocks, with `\` continuations joined and comments dropped. */
function shellCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((b) =>
    b
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
  );
}

const curls = shellCommands(README).filter((c) => c.startsWith('curl '));

describe('README', () => {
  it('has no elided curl command anywhere (each one works when pasted)', () => {
    const withCurl = README.split('\n').filter((l) => /\bcurl /.test(l));
    expect(withCurl.length).toBeGreaterThan(4);
    expect(withCurl.filter((l) => l.includes('…') || l.includes('...'))).toEqual([]);
  });

  describe('first-run requests against a running Sluice', () => {
    let s: Embedded;
    beforeAll(async () => {
      s = await startTestSluice(configFolder({ 'iris.yaml': demoService('iris') }));
    });
    afterAll(async () => {
      await s?.close();
    });

    const firstRun = curls.filter((c) => /localhost:(8080|9090)/.test(c) && !c.includes('x-sluice-tag'));
    it.each(firstRun.map((c) => [c]))('%s', async (command) => {
      const local = command.replaceAll('localhost:8080', new URL(s.dataUrl).host).replaceAll('localhost:9090', new URL(s.metricsUrl).host);
      const r = await run('sh', ['-c', local], { timeout: 30_000 });
      if (command.includes(':predict')) expect(JSON.parse(r.stdout)).toEqual({ predictions: [1] });
      else if (command.includes('/infer')) expect(JSON.parse(r.stdout)).toMatchObject({ outputs: [{ data: [1] }] });
      else expect(r.stdout).toMatch(/^sluice_/m);
    });

    it('covers the host-routing request', () => {
      expect(firstRun.some((c) => c.includes("-H 'Host: iris.default.example.com'"))).toBe(true);
    });
  });
});
