/**
 * `node dist/load-tests/outcome-cost.js`: CPU cost per request of recording a rollout outcome, in process, for
 * the embedded recorder (a ring per revision) and the cluster flusher (sums per second, flushed to the Store
 * once a second; here a MemoryStore, so the flush's own cost is counted too, without the network). Interleaved
 * rounds; medians; 1 s of simulated time per 10,000 requests (so each round also seals and flushes seconds).
 */
import { FakeClock } from '../core/clock.js';
import { MemoryStore } from '../core/store.js';
import { OutcomeRecorder } from '../gateway/outcome-recorder.js';
import { OutcomeFlusher, type OutcomeSink } from '../gateway/shared-outcomes.js';

const N = 1_000_000;
const ROUNDS = 7;
const PER_SECOND = 10_000;
const REVISIONS = ['default/a-predictor-00001', 'default/a-predictor-00002', 'default/b-predictor-00001', 'default/c-predictor-00003'];

async function run(make: (clock: FakeClock) => { sink: OutcomeSink; flush: () => Promise<void> }): Promise<number> {
  const clock = new FakeClock(1_700_000_000_000);
  const { sink, flush } = make(clock);
  const t = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    sink.record(REVISIONS[i & 3]!, clock.now(), i % 50 === 0 ? 503 : 200, 3 + (i % 97) * 0.7, 0);
    if (i % PER_SECOND === PER_SECOND - 1) {
      clock.advance(1000);
      await flush();
    }
  }
  const u = process.cpuUsage(t);
  return (u.user + u.system) / N;
}

const results: { ring: number[]; flusher: number[] } = { ring: [], flusher: [] };
for (let r = 0; r < ROUNDS; r++) {
  results.ring.push(await run(() => ({ sink: new OutcomeRecorder(), flush: async () => undefined })));
  results.flusher.push(
    await run((clock) => {
      const f = new OutcomeFlusher({ clock, store: new MemoryStore(), flushIntervalMs: 0 });
      return { sink: f, flush: () => f.flush() };
    }),
  );
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(
  `rollout outcome per request, CPU µs (median of ${ROUNDS} interleaved rounds × ${N.toLocaleString('en')} requests over 4 revisions):\n` +
    `  embedded ring (OutcomeRecorder):               ${median(results.ring).toFixed(3)}\n` +
    `  cluster flusher (OutcomeFlusher, 1 flush/s):   ${median(results.flusher).toFixed(3)}\n`,
);
