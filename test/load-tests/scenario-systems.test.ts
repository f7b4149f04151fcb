/**
 * `--systems` against a scenario's own systems (load-tests/scenarios/scenario-systems.ts): a name the scenario does
 * not run is reported, not dropped without a word (`latency --systems …,sluice-2w` once ran without sluice-2w and
 * said nothing), and `sluice-alt` joins a scenario that runs `sluice`.
 */
import { describe, expect, it } from 'vitest';
import { systemsToStart } from '../../load-tests/scenarios/scenario-systems.js';

const LATENCY = ['direct', 'nginx', 'haproxy', 'sluice'];

describe('systemsToStart', () => {
  it('starts every system of the scenario when --systems is absent', () => {
    expect(systemsToStart(LATENCY, undefined)).toEqual({ wanted: LATENCY, notHere: [] });
  });

  it('starts the named ones in the scenario order and reports a name the scenario does not run', () => {
    expect(systemsToStart(LATENCY, ['sluice', 'sluice-2w', 'direct'])).toEqual({ wanted: ['direct', 'sluice'], notHere: ['sluice-2w'] });
  });

  it('adds sluice-alt where sluice runs, and reports it where it does not', () => {
    expect(systemsToStart(LATENCY, ['sluice', 'sluice-alt'])).toEqual({ wanted: ['sluice', 'sluice-alt'], notHere: [] });
    expect(systemsToStart(['direct', 'nginx'], ['nginx', 'sluice-alt'])).toEqual({ wanted: ['nginx'], notHere: ['sluice-alt'] });
  });
});
