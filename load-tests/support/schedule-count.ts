/**
 * A diagnostic preload that counts what a process schedules (issue 19: what one proxied request costs the event
 * loop besides its own code). With
 *   node --import ./dist/load-tests/support/schedule-count.js … (or SLUICE_BENCH_NODE_FLAGS for the harness)
 *   SLUICE_SCHEDULE_COUNT=/tmp/schedule.txt
 * the first SIGUSR2 the process gets zeroes the counts, and each one after appends a line to that file: the
 * `process.nextTick` calls, promises and timers made since the last zeroing (promises and timers as async_hooks
 * sees them created). Divided by the requests served between the two signals, they are per request.
 * load-tests/schedule-count.sh drives one such count. Off unless the variable is set; the async hook it enables
 * slows every promise, so it counts, it never times.
 */
import { createHook } from 'node:async_hooks';
import { appendFileSync } from 'node:fs';

const file = process.env['SLUICE_SCHEDULE_COUNT'];
if (file !== undefined && file !== '') {
  const counts = { ticks: 0, promises: 0, timers: 0, immediates: 0 };
  let counting = false;
  const nextTick = process.nextTick.bind(process);
  process.nextTick = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => {
    counts.ticks++;
    nextTick(fn, ...args);
  }) as typeof process.nextTick;
  createHook({
    init(_id, type) {
      if (type === 'PROMISE') counts.promises++;
      else if (type === 'Timeout') counts.timers++;
      else if (type === 'Immediate') counts.immediates++;
    },
  }).enable();
  process.on('SIGUSR2', () => {
    if (counting) {
      appendFileSync(file, `ticks ${counts.ticks} promises ${counts.promises} timers ${counts.timers} immediates ${counts.immediates}\n`);
    }
    counting = true;
    counts.ticks = counts.promises = counts.timers = counts.immediates = 0;
  });
}
