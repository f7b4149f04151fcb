import { describe, expect, it } from 'vitest';
import { metricValue } from './metrics-text.js';

const TEXT = `# HELP sluice_scale_events_total Scale events
# TYPE sluice_scale_events_total counter
sluice_scale_events_total{direction="up",reason="poke"} 10
sluice_scale_events_total{direction="down",reason="scale-to-zero"} 1
sluice_scale_events_total_extra{direction="up"} 7
sluice_ready_replicas{namespace="default",service="a,b}",revision="say \\"hi\\""} 1.5
sluice_up 1
sluice_le{le="+Inf"} +Inf
`;

describe('metricValue', () => {
  it('reads the number of the series whose labels match, never a prefix of the value or of the name', () => {
    expect(metricValue(TEXT, 'sluice_scale_events_total', { reason: 'poke' })).toBe(10);
    expect(metricValue(TEXT, 'sluice_scale_events_total', { direction: 'down' })).toBe(1);
    expect(metricValue(TEXT, 'sluice_scale_events_total_extra')).toBe(7);
    expect(metricValue(TEXT, 'sluice_up')).toBe(1);
    expect(metricValue(TEXT, 'sluice_le')).toBe(Infinity);
  });

  it('handles commas, braces and escaped quotes inside label values', () => {
    expect(metricValue(TEXT, 'sluice_ready_replicas', { service: 'a,b}', revision: 'say "hi"' })).toBe(1.5);
  });

  it('answers undefined when nothing matches and throws when more than one series does', () => {
    expect(metricValue(TEXT, 'sluice_scale_events_total', { reason: 'idle' })).toBeUndefined();
    expect(metricValue(TEXT, 'sluice_missing')).toBeUndefined();
    expect(() => metricValue(TEXT, 'sluice_scale_events_total')).toThrow(/2 series of sluice_scale_events_total/);
  });
});
