/**
 * A diagnostic preload that samples where a process allocates (issue 19: what one proxied request leaves for the
 * young-generation collector). With
 *   node --import ./dist/load-tests/support/alloc-sample.js …
 *   SLUICE_ALLOC_SAMPLE=/tmp/alloc.heapprofile
 * the first SIGUSR2 starts V8's sampling heap profiler (one sample per 1 KiB allocated on average) counting the
 * objects collected since as well as those still alive, and the next one stops it and writes the profile (Chrome
 * DevTools' `.heapprofile` format) to that file. load-tests/alloc-sites.sh drives one such sample and
 * load-tests/alloc-sites.ts turns it into bytes per request by allocation site. Off unless the variable is set;
 * the inspector session slows allocation while it samples, so it counts, it never times.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const file = process.env['SLUICE_ALLOC_SAMPLE'];
if (file !== undefined && file !== '') {
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
  let sampling = false;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!sampling) {
        sampling = true;
        await post('HeapProfiler.enable');
        await post('HeapProfiler.startSampling', {
          samplingInterval: 1024,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        return;
      }
      sampling = false;
      const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(profile));
    })().catch((err: unknown) => process.stderr.write(`alloc-sample: ${(err as Error).message}\n`));
  });
}
