import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { waitUntil } from '../../../test/support/wait.js';
import { ReplicaProcess } from './replica-process.js';

/**
 * The readiness probe schedule of a real child process, on a fake clock: the probe is injected (it records when
 * it ran and answers what the test says), so only the child's output arrives in real time.
 */
function start(o: { script: string; waiting?: boolean }) {
  const clock = new FakeClock(1_000);
  const probes: number[] = [];
  const lines: string[] = [];
  let answer = false;
  let ready = false;
  const proc = new ReplicaProcess(
    {
      id: 'test/rev#1',
      host: '127.0.0.1',
      port: 1,
      launch: { command: process.execPath, args: ['-e', o.script], env: { PATH: process.env['PATH'] ?? '' }, readinessPath: '/ready', stdin: 'pipe' },
      probeIntervalMs: 50,
      probeFastIntervalMs: 10,
      probeTimeoutMs: 1_000,
      startupTimeoutMs: 600_000,
      clock,
      logger: { info: (_o, m) => lines.push(m), warn: (_o, m) => lines.push(m), error: (_o, m) => lines.push(m) },
      waiting: () => o.waiting ?? false,
      probe: async () => {
        probes.push(clock.now());
        return answer;
      },
    },
    { onReady: () => (ready = true), onStartupTimeout: () => undefined, onExit: () => undefined },
  );
  proc.start();
  clock.advance(0); // the first probe runs on a 0 ms timer
  return {
    clock,
    probes,
    lines,
    proc,
    answer: (ok: boolean) => (answer = ok),
    ready: () => ready,
  };
}

/** Lets the injected probe's promise settle. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('ReplicaProcess readiness probes', () => {
  let stop: (() => Promise<unknown>) | null = null;
  afterEach(async () => {
    await stop?.();
    stop = null;
  });

  it('probes at spawn, then every 50 ms while nobody waits', async () => {
    const r = start({ script: 'setInterval(() => {}, 1000)' });
    stop = () => r.proc.kill();
    await settle();
    expect(r.probes).toEqual([1_000]);
    r.clock.advance(49);
    await settle();
    expect(r.probes).toEqual([1_000]);
    r.clock.advance(1);
    await settle();
    expect(r.probes).toEqual([1_000, 1_050]);
  });

  it('probes every 10 ms while requests wait for the revision', async () => {
    const r = start({ script: 'setInterval(() => {}, 1000)', waiting: true });
    stop = () => r.proc.kill();
    for (let i = 0; i < 3; i++) {
      await settle();
      r.clock.advance(10);
    }
    await settle();
    expect(r.probes).toEqual([1_000, 1_010, 1_020, 1_030]);
  });

  it('a line of output brings the next probe forward, and the probe (not the line) makes it ready', async () => {
    // The child prints its line after a moment of real time; the fake clock stands still meanwhile.
    const r = start({ script: "setTimeout(() => console.log('model loaded'), 100); setInterval(() => {}, 1000)" });
    stop = () => r.proc.kill();
    await settle();
    r.clock.advance(20);
    expect(r.probes).toEqual([1_000]);
    r.answer(true);
    await waitUntil('the replica\'s line to arrive', () => r.lines.includes('model loaded'), 5_000, 5);
    await settle();
    // Probed at the line (1 020), not at the period (1 050).
    expect(r.probes).toEqual([1_000, 1_020]);
    expect(r.ready()).toBe(true);
  });
});
