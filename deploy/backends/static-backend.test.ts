import { describe, expect, it } from 'vitest';
import { sampleRevision } from '../../test/support/revision-fixture.js';
import type { EndpointEvent } from '../../api/backend.js';
import { StaticBackend } from './static-backend.js';

const KEY = 'default/iris-predictor-00001';
const seen = (events: EndpointEvent[]): string[] => events.map((e) => `${e.type} ${e.endpoint.id} ${e.endpoint.url}`);

function setup(urls: string[] = ['http://10.0.0.1:8080', 'http://10.0.0.2:8080']) {
  let current = urls;
  const backend = new StaticBackend(() => current);
  const events: EndpointEvent[] = [];
  const unsubscribe = backend.subscribe((e) => events.push(e));
  return { backend, events, unsubscribe, setUrls: (u: string[]) => (current = u) };
}

describe('StaticBackend (replicas at fixed addresses)', () => {
  it('apply registers a revision at zero: no endpoint, no event', async () => {
    const { backend, events } = setup();
    await backend.apply(sampleRevision());
    expect(backend.counts(KEY)).toEqual({ desired: 0, starting: 0, ready: 0 });
    expect(backend.endpoints(KEY)).toEqual([]);
    expect(events).toEqual([]);
  });

  it('scaling up makes every address a ready endpoint once, with the revision’s containerConcurrency', async () => {
    const { backend, events } = setup();
    await backend.apply(sampleRevision());
    await backend.scale(KEY, 1);
    await backend.scale(KEY, 3); // already up: nothing new
    expect(seen(events)).toEqual([`ready ${KEY}#1 http://10.0.0.1:8080`, `ready ${KEY}#2 http://10.0.0.2:8080`]);
    expect(events.every((e) => e.endpoint.capacity === 4 && e.endpoint.revisionKey === KEY)).toBe(true);
    expect(backend.counts(KEY)).toEqual({ desired: 3, starting: 0, ready: 2 });
    expect(backend.endpoints(KEY).map((e) => e.url)).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080']);
  });

  it('scaling to zero removes every endpoint with a reason', async () => {
    const { backend, events } = setup();
    await backend.apply(sampleRevision());
    await backend.scale(KEY, 2);
    events.length = 0;
    await backend.scale(KEY, 0);
    expect(events.map((e) => [e.type, e.type === 'removed' ? e.reason : ''])).toEqual([
      ['removed', 'scaled to zero'],
      ['removed', 'scaled to zero'],
    ]);
    expect(backend.endpoints(KEY)).toEqual([]);
    expect(backend.counts(KEY)).toEqual({ desired: 0, starting: 0, ready: 0 });
  });

  it('remove takes a running revision out and forgets it; scaling an unknown revision does nothing', async () => {
    const { backend, events } = setup(['http://10.0.0.1:8080']);
    await backend.apply(sampleRevision());
    await backend.scale(KEY, 1);
    await backend.remove(KEY);
    expect(seen(events)).toEqual([`ready ${KEY}#1 http://10.0.0.1:8080`, `removed ${KEY}#1 http://10.0.0.1:8080`]);
    await backend.scale(KEY, 2);
    expect(backend.counts(KEY)).toEqual({ desired: 0, starting: 0, ready: 0 });
    expect(events).toHaveLength(2);
  });

  it('re-applying a running revision with other addresses moves its endpoints: the old ones removed, the new ones ready', async () => {
    const { backend, events, setUrls } = setup(['http://10.0.0.1:8080']);
    await backend.apply(sampleRevision());
    await backend.scale(KEY, 1);
    setUrls(['http://10.0.0.9:8080']);
    await backend.apply(sampleRevision());
    expect(backend.endpoints(KEY).map((e) => e.url)).toEqual(['http://10.0.0.9:8080']);
    expect(events.map((e) => `${e.type} ${e.endpoint.url}`)).toEqual([
      'ready http://10.0.0.1:8080',
      'removed http://10.0.0.1:8080',
      'ready http://10.0.0.9:8080',
    ]);
    // Re-applying with the same addresses changes nothing.
    await backend.apply(sampleRevision());
    expect(events).toHaveLength(3);
  });

  it('an unsubscribed listener hears nothing more', async () => {
    const { backend, events, unsubscribe } = setup();
    await backend.apply(sampleRevision());
    unsubscribe();
    await backend.scale(KEY, 1);
    expect(events).toEqual([]);
  });
});
