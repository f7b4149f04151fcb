import { describe, expect, it } from 'vitest';
import { checkBurst, type BurstAnswer } from '../../load-tests/cold-start/burst.js';
import { addedDelay, breakdown, type ColdStartRound } from '../../load-tests/cold-start/round.js';
import { coldStartTimeline, HELD_MESSAGE } from '../../load-tests/cold-start/timeline.js';
import { readRevisionSeries } from '../../load-tests/support/metrics-sampler.js';
import type { LogLine } from '../../load-tests/support/sluice-process.js';

const REV = 'burst-predictor-00001';
const replicaLine = (msg: string, iso: string): string => JSON.stringify({ level: 'info', time: iso, pid: 9, msg });

/** What `sluice serve` logs around one cold start (times in ms since the epoch). */
const LOGS: LogLine[] = [
  { time: 1_000, msg: 'sluice is serving' },
  { time: 1_100, msg: HELD_MESSAGE, revision: `default/${REV}` },
  { time: 1_100, msg: 'scale', revision: `default/${REV}`, reason: 'poke', to: 1 },
  { time: 1_104, msg: 'replica starting', replica: `default/${REV}#1`, url: 'http://127.0.0.1:4001' },
  { time: 1_150, msg: replicaLine('listening', new Date(1_150).toISOString()), replica: `default/${REV}#1`, stream: 'stdout' },
  { time: 3_151, msg: replicaLine('ready', new Date(3_150).toISOString()), replica: `default/${REV}#1`, stream: 'stdout' },
  { time: 3_153, msg: 'replica ready', replica: `default/${REV}#1`, url: 'http://127.0.0.1:4001' },
  { time: 5_000, msg: 'replica ready', replica: `default/${REV}#2`, url: 'http://127.0.0.1:4002' },
];

describe('cold-start measurement', () => {
  it('reads the wake-up timeline from sluice\'s log and the replica\'s own lines', () => {
    expect(coldStartTimeline(LOGS, REV)).toEqual({
      heldAt: 1_100,
      spawnAt: 1_104,
      replicaReadyAt: 3_150,
      announcedAt: 3_153,
      replicaId: `default/${REV}#1`,
      replicaUrls: ['http://127.0.0.1:4001', 'http://127.0.0.1:4002'],
    });
  });

  it('names the log line it could not find', () => {
    expect(() => coldStartTimeline(LOGS.filter((l) => l.msg !== HELD_MESSAGE), REV)).toThrow(/no "holding requests for a revision at zero/);
    expect(() => coldStartTimeline(LOGS.filter((l) => l.msg !== 'replica ready'), REV)).toThrow(/"replica ready" line for default\/burst-predictor-00001#1/);
  });

  it('adds wake-up and ready → first answer, minus what a fresh replica costs directly', () => {
    const round = { timeline: coldStartTimeline(LOGS, REV), burstAt: 1_000, firstAnswerAt: 3_170 } as ColdStartRound;
    const b = breakdown(round);
    expect(b).toEqual({ rampMs: 100, wakeMs: 4, startupMs: 2_046, readyToAnnouncedMs: 3, readyToFirstMs: 20 });
    expect(addedDelay(b, 12)).toBe(12);
  });

  it('counts a request as lost unless it got a 200 carrying its own id', () => {
    const a = (id: string, status: number, bodyId: string | undefined): BurstAnswer => ({ id, status, bodyId, ms: 1, doneAt: 1 });
    const check = checkBurst([a('c-0', 200, 'c-0'), a('c-1', 503, undefined), a('c-2', 200, 'c-9'), { ...a('c-3', 0, undefined), error: 'socket hang up' }]);
    expect(check.ok).toBe(1);
    expect(check.lost).toBe(3);
    expect(check.failures).toEqual(['c-1: HTTP 503', 'c-2: HTTP 200 carried id c-9', 'c-3: no answer (socket hang up)']);
  });

  it('reads one revision\'s series from the Prometheus text', () => {
    const text = [
      '# HELP sluice_activator_held_requests Requests held',
      '# TYPE sluice_activator_held_requests gauge',
      `sluice_activator_held_requests{namespace="default",service="burst",revision="${REV}"} 812`,
      'sluice_activator_held_requests{namespace="default",service="other",revision="other-predictor-00001"} 3',
      `sluice_desired_replicas{namespace="default",service="burst",revision="${REV}"} 1`,
    ].join('\n');
    const values = readRevisionSeries(text, ['sluice_activator_held_requests', 'sluice_desired_replicas', 'sluice_ready_replicas'], REV);
    expect(values['sluice_activator_held_requests']).toBe(812);
    expect(values['sluice_desired_replicas']).toBe(1);
    expect(values['sluice_ready_replicas']).toBeNaN();
  });
});
