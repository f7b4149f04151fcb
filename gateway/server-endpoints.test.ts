import { describe, expect, it } from 'vitest';
import { GatewayPhase } from './server-endpoints.js';

describe('GatewayPhase', () => {
  it('is not ready while starting, ready once serving, and never ready again once draining', () => {
    const p = new GatewayPhase('starting');
    expect(p.notReadyReason()).toBe('Sluice is starting: its routes are not loaded yet');
    p.serving();
    expect(p.notReadyReason()).toBeNull();
    p.draining();
    expect(p.notReadyReason()).toBe('Sluice is shutting down');
    p.serving();
    expect(p.name).toBe('draining');
  });
});
